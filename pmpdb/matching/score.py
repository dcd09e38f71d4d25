"""How well one candidate record fits a query: a number in [0, 1] built from the weights in `weights`.

The birth date gates: anything but the same date or its day/month transposition scores 0, so no
amount of name and address agreement makes a different birth date a match. The score is symmetric.
"""

from __future__ import annotations

from pmpdb.matching import weights as w
from pmpdb.matching.compare import (
    birth_date_level,
    first_name_level,
    gender_level,
    last_name_level,
    same_address,
)
from pmpdb.matching.model import Demographics


def score(q: Demographics, c: Demographics) -> float:
    """Match score of record ``c`` for query ``q`` (or of any two records; ``score(a, b) == score(b, a)``)."""
    dob = birth_date_level(q.birth_date, c.birth_date)
    if dob == w.MISSING:
        return 0.0
    total = w.W_DOB * dob

    last = last_name_level(q.last_name, c.last_name)
    total += w.W_LAST * last if last >= 0 else -w.PENALTY_LAST
    first = first_name_level(q.first_name, c.first_name)
    total += w.W_FIRST * first if first >= 0 else -w.PENALTY_FIRST
    gender = gender_level(q.gender, c.gender)
    total += w.W_GENDER * gender if gender >= 0 else -w.PENALTY_GENDER

    if q.suffix and c.suffix and q.suffix != c.suffix:
        total -= w.PENALTY_SUFFIX
    if q.middle_name and c.middle_name and q.middle_name[0] != c.middle_name[0]:
        total -= w.PENALTY_MIDDLE

    if q.zip_code and c.zip_code:
        if q.zip_code == c.zip_code:
            total += w.W_ZIP
    elif q.city and q.city == c.city and (q.state == c.state or not q.state or not c.state):
        total += w.W_ZIP * w.CITY_FOR_ZIP
    if same_address(q.address, c.address):
        total += w.W_ADDRESS
    if q.phone and q.phone == c.phone:
        total += w.W_PHONE

    return round(min(1.0, max(0.0, total)), 6)
