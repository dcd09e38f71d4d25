"""Every number that decides a match, in one place (explained in docs/patient-matching.md).

A score is ``Σ weight × agreement level − penalties``, clamped to [0, 1]. The positive weights sum to 1,
so a record that agrees on everything scores 1.0. The levels say how much of a field's weight a
partial agreement earns; penalties apply only when both sides give the field and it clearly differs.

Tuned against false positives: last name + first name + exact DOB and nothing else (0.80) passes, and
so does a nickname (0.775); a typo in one name needs one more agreeing field (gender, ZIP, street or
phone); an initial-only given name or a transposed DOB needs two.
"""

from __future__ import annotations

THRESHOLD = 0.75
"""A record scoring at least this is a candidate for the query's person."""

MARGIN = 0.05
"""FOUND needs the best person to beat the next by this much.

A ZIP (0.06), a street (0.06) or a phone (0.05) that only one of them shares with the query does; a
nickname against an exact name (0.025) or gender against unknown gender (0.03) does not.
"""

# Positive weights (sum to 1.0).
W_LAST = 0.30
W_FIRST = 0.25
W_DOB = 0.25
W_GENDER = 0.03
W_ZIP = 0.06
W_ADDRESS = 0.06
W_PHONE = 0.05
CITY_FOR_ZIP = 0.5
"""Share of W_ZIP earned by the same city and state when one side has no ZIP."""

# Penalties: both sides give the field and it clearly disagrees.
PENALTY_LAST = 0.30
PENALTY_FIRST = 0.30
PENALTY_GENDER = 0.30
PENALTY_SUFFIX = 0.20
PENALTY_MIDDLE = 0.10

# Surname agreement levels.
LAST_EXACT = 1.0
LAST_REORDERED = 0.95  # same parts, other order: LOPEZ GARCIA / GARCIA LOPEZ
LAST_COMPOUND = 0.90  # one is a part of the other: GARCIA / GARCIA LOPEZ
LAST_SIMILAR = 0.80  # typo or same sound: SMITH / SMYTH / SMIHT
LAST_PART_SHARED = 0.40  # share a part only: GARCIA LOPEZ / GARCIA MARTINEZ (cousins, not a person)

# Given-name agreement levels.
FIRST_EXACT = 1.0
FIRST_NICKNAME = 0.90  # BILL / WILLIAM, KATHY / CATHERINE
FIRST_FIRST_WORD = 0.85  # MARY / MARY ANN
FIRST_SIMILAR = 0.75  # typo of a name, never between two known different names
FIRST_INITIAL = 0.50  # J / JOHN (and J / J)

# Birth date levels; any other date scores the whole record 0.
DOB_EXACT = 1.0
DOB_TRANSPOSED = 0.50  # day and month swapped

# Similarity floors.
JARO_WINKLER_MIN = 0.88
"""Jaro–Winkler similarity at or above this is a typo (SMITH/SNITH 0.88; JASON/MASON 0.87 is not)."""
SIMILAR_MIN_LENGTH = 4
"""Names shorter than this are only equal or not: LI / LEE / LE are different families."""

# Level values returned by the comparers besides the levels above.
MISSING = 0.0
"""One side does not give the field: no credit, no penalty."""
MISMATCH = -1.0
"""Both give it and it disagrees: the field's penalty applies."""
