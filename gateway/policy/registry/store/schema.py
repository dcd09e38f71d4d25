"""The registry's tables: one DDL for SQLite and PostgreSQL, created with ``IF NOT EXISTS``; columns added later are
listed in ``COLUMN_UPGRADES`` and added to an older database when it is opened (nothing else changes in it).

- ``eds``: one row per EDS; its quota in four columns (``quota_rate`` NULL = no quota set); ``kind`` ``eds`` or
  ``partner`` (a partner state's hub; added by issue 9: older databases get ``eds`` for every row).
- ``eds_client``: the EDS's OAuth clients; ``jwks`` is JSON text, ``scopes`` space-separated, ``secret_hash`` a KDF
  hash (``credentials.hash_secret``); empty text = not used by this client's auth method.
- ``end_user``: registered users. NPI is unique, and so are the DEA number and the (licence state, licence) pair —
  each names one person; partial unique indexes skip the empty ones.
- ``user_eds``: the EDSs a user may be named through.
- ``supervision``: delegate → supervisor, with who approved when on each side (empty = not yet).
- ``partner``: one row per partner state (``gateway.interstate.partners.Partner``): its inbound policy (taxonomy
  codes, required patient fields, space-separated), the outbound configuration (``outbound_endpoint`` empty = none;
  the timeout in milliseconds), the EDS (kind ``partner``) whose clients are its hub, and ``version``, which every
  change increments.
- ``partner_history``: every version of every partner as JSON, with who changed it, when and how. The primary key
  ``(state, version)`` also makes a change that raced another one fail instead of overwriting it.

Statements below use ``?`` placeholders; the PostgreSQL backend numbers them (``$1``…). Booleans are INTEGER 0/1.
"""

# SQL text is assembled only from the constant column lists in this package; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS eds (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  agreement TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT '',
  contact TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  quota_rate INTEGER,
  quota_per_seconds INTEGER,
  quota_burst INTEGER,
  quota_shadow INTEGER NOT NULL DEFAULT 0,
  kind TEXT NOT NULL DEFAULT 'eds'
)""",
    """CREATE TABLE IF NOT EXISTS eds_client (
  client_id TEXT PRIMARY KEY,
  eds_id TEXT NOT NULL REFERENCES eds (id),
  auth_method TEXT NOT NULL,
  jwks TEXT NOT NULL DEFAULT '',
  jwks_url TEXT NOT NULL DEFAULT '',
  secret_hash TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS eds_client_eds ON eds_client (eds_id)",
    """CREATE TABLE IF NOT EXISTS end_user (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  npi TEXT NOT NULL DEFAULT '',
  dea TEXT NOT NULL DEFAULT '',
  state_license TEXT NOT NULL DEFAULT '',
  license_state TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  expires TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS end_user_npi ON end_user (npi) WHERE npi <> ''",
    "CREATE UNIQUE INDEX IF NOT EXISTS end_user_dea ON end_user (dea) WHERE dea <> ''",
    "CREATE UNIQUE INDEX IF NOT EXISTS end_user_license ON end_user (state_license, license_state)"
    " WHERE state_license <> ''",
    """CREATE TABLE IF NOT EXISTS user_eds (
  user_id TEXT NOT NULL REFERENCES end_user (id),
  eds_id TEXT NOT NULL REFERENCES eds (id),
  PRIMARY KEY (user_id, eds_id)
)""",
    "CREATE INDEX IF NOT EXISTS user_eds_eds ON user_eds (eds_id)",
    """CREATE TABLE IF NOT EXISTS supervision (
  delegate_id TEXT NOT NULL REFERENCES end_user (id),
  supervisor_id TEXT NOT NULL REFERENCES end_user (id),
  created_at TEXT NOT NULL,
  supervisor_approved_by TEXT NOT NULL DEFAULT '',
  supervisor_approved_at TEXT NOT NULL DEFAULT '',
  division_approved_by TEXT NOT NULL DEFAULT '',
  division_approved_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (delegate_id, supervisor_id),
  CHECK (delegate_id <> supervisor_id)
)""",
    """CREATE TABLE IF NOT EXISTS partner (
  state TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  eds_id TEXT NOT NULL UNIQUE REFERENCES eds (id),
  allowed_taxonomies TEXT NOT NULL DEFAULT '',
  required_fields TEXT NOT NULL DEFAULT '',
  default_for_roles TEXT NOT NULL DEFAULT '',
  outbound_endpoint TEXT NOT NULL DEFAULT '',
  outbound_protocol TEXT NOT NULL DEFAULT '',
  outbound_token_url TEXT NOT NULL DEFAULT '',
  outbound_client_id TEXT NOT NULL DEFAULT '',
  outbound_key_file TEXT NOT NULL DEFAULT '',
  outbound_scope TEXT NOT NULL DEFAULT '',
  outbound_timeout_ms INTEGER NOT NULL DEFAULT 0,
  outbound_enabled INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
)""",
    """CREATE TABLE IF NOT EXISTS partner_history (
  state TEXT NOT NULL REFERENCES partner (state),
  version INTEGER NOT NULL,
  changed_at TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  action TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (state, version)
)""",
)

# Columns added after a table was first released: (table, column, declaration). ``open`` adds each one that an
# existing database lacks, with its default filling the rows already there.
COLUMN_UPGRADES: tuple[tuple[str, str, str], ...] = (("eds", "kind", "TEXT NOT NULL DEFAULT 'eds'"),)


def postgres_upgrades() -> tuple[str, ...]:
    """``COLUMN_UPGRADES`` as PostgreSQL statements, run after ``TABLES`` with the registry's schema first on the
    search path. Each alters its table only when the column is missing: a plain ``ADD COLUMN IF NOT EXISTS`` would
    take the table's exclusive lock on every start-up of every replica."""
    return tuple(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        f" AND table_name = '{t}' AND column_name = '{c}') THEN ALTER TABLE {t} ADD COLUMN {c} {decl}; END IF; END $$"
        for t, c, decl in COLUMN_UPGRADES
    )


EDS_COLUMNS = (
    "id, name, agreement, state, contact, status, created_at, quota_rate, quota_per_seconds, quota_burst, quota_shadow,"
    " kind"
)
CLIENT_COLUMNS = "client_id, eds_id, auth_method, jwks, jwks_url, secret_hash, scopes, status, created_at"
USER_COLUMNS = "id, role, first_name, last_name, npi, dea, state_license, license_state, status, expires, created_at"
SUPERVISION_COLUMNS = (
    "delegate_id, supervisor_id, created_at, supervisor_approved_by, supervisor_approved_at,"
    " division_approved_by, division_approved_at"
)

INSERT_EDS = f"INSERT INTO eds ({EDS_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
SELECT_EDS = f"SELECT {EDS_COLUMNS} FROM eds"
UPDATE_EDS_STATUS = "UPDATE eds SET status = ? WHERE id = ?"
UPDATE_EDS_QUOTA = (
    "UPDATE eds SET quota_rate = ?, quota_per_seconds = ?, quota_burst = ?, quota_shadow = ? WHERE id = ?"
)

INSERT_CLIENT = f"INSERT INTO eds_client ({CLIENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"
SELECT_CLIENT = f"SELECT {CLIENT_COLUMNS} FROM eds_client"
CLIENT_COLUMN_COUNT = len(CLIENT_COLUMNS.split(","))
SELECT_CLIENT_WITH_EDS = (
    "SELECT "
    + ", ".join(f"c.{c.strip()}" for c in CLIENT_COLUMNS.split(","))
    + ", "
    + ", ".join(f"e.{c.strip()}" for c in EDS_COLUMNS.split(","))
    + " FROM eds_client c JOIN eds e ON e.id = c.eds_id WHERE c.client_id = ?"
)
UPDATE_CLIENT_STATUS = "UPDATE eds_client SET status = ? WHERE client_id = ?"

INSERT_USER = f"INSERT INTO end_user ({USER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
SELECT_USER = f"SELECT {USER_COLUMNS} FROM end_user"
UPDATE_USER_STATUS = "UPDATE end_user SET status = ? WHERE id = ?"
INSERT_USER_EDS = "INSERT INTO user_eds (user_id, eds_id) VALUES (?, ?)"
SELECT_USER_EDS = "SELECT eds_id FROM user_eds WHERE user_id = ? ORDER BY eds_id"
INSERT_SUPERVISION = "INSERT INTO supervision (delegate_id, supervisor_id, created_at) VALUES (?, ?, ?)"
SELECT_SUPERVISIONS = f"SELECT {SUPERVISION_COLUMNS} FROM supervision WHERE delegate_id = ? ORDER BY created_at"
APPROVE_BY_SUPERVISOR = (
    "UPDATE supervision SET supervisor_approved_by = ?, supervisor_approved_at = ?"
    " WHERE delegate_id = ? AND supervisor_id = ? AND supervisor_approved_at = ''"
)
APPROVE_BY_DIVISION = (
    "UPDATE supervision SET division_approved_by = ?, division_approved_at = ?"
    " WHERE delegate_id = ? AND supervisor_id = ? AND division_approved_at = ''"
)

PARTNER_COLUMNS = (
    "state, name, status, eds_id, allowed_taxonomies, required_fields, default_for_roles, outbound_endpoint,"
    " outbound_protocol, outbound_token_url, outbound_client_id, outbound_key_file, outbound_scope,"
    " outbound_timeout_ms, outbound_enabled, version, created_at, updated_at, updated_by"
)
INSERT_PARTNER = f"INSERT INTO partner ({PARTNER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
SELECT_PARTNER = f"SELECT {PARTNER_COLUMNS} FROM partner"
UPDATE_PARTNER = (
    "UPDATE partner SET name = ?, status = ?, allowed_taxonomies = ?, required_fields = ?, default_for_roles = ?,"
    " outbound_endpoint = ?, outbound_protocol = ?, outbound_token_url = ?, outbound_client_id = ?,"
    " outbound_key_file = ?, outbound_scope = ?, outbound_timeout_ms = ?, outbound_enabled = ?, version = ?,"
    " updated_at = ?, updated_by = ? WHERE state = ? AND version = ?"
)
INSERT_PARTNER_HISTORY = (
    "INSERT INTO partner_history (state, version, changed_at, changed_by, action, record) VALUES (?,?,?,?,?,?)"
)
SELECT_PARTNER_HISTORY = (
    "SELECT state, version, changed_at, changed_by, action, record FROM partner_history WHERE state = ?"
    " ORDER BY version"
)
