"""The registry's tables: one DDL for SQLite and PostgreSQL, created with ``IF NOT EXISTS`` (no migrations yet).

- ``eds``: one row per EDS; its quota in four columns (``quota_rate`` NULL = no quota set).
- ``eds_client``: the EDS's OAuth clients; ``jwks`` is JSON text, ``scopes`` space-separated, ``secret_hash`` a KDF
  hash (``credentials.hash_secret``); empty text = not used by this client's auth method.
- ``end_user``: registered users. NPI is unique, and so are the DEA number and the (licence state, licence) pair —
  each names one person; partial unique indexes skip the empty ones.
- ``user_eds``: the EDSs a user may be named through.
- ``supervision``: delegate → supervisor, with who approved when on each side (empty = not yet).

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
  quota_shadow INTEGER NOT NULL DEFAULT 0
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
)

EDS_COLUMNS = (
    "id, name, agreement, state, contact, status, created_at, quota_rate, quota_per_seconds, quota_burst, quota_shadow"
)
CLIENT_COLUMNS = "client_id, eds_id, auth_method, jwks, jwks_url, secret_hash, scopes, status, created_at"
USER_COLUMNS = "id, role, first_name, last_name, npi, dea, state_license, license_state, status, expires, created_at"
SUPERVISION_COLUMNS = (
    "delegate_id, supervisor_id, created_at, supervisor_approved_by, supervisor_approved_at,"
    " division_approved_by, division_approved_at"
)

INSERT_EDS = f"INSERT INTO eds ({EDS_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
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
