-- SCIM provisioning: API keys get the scope `scim` (SQLite cannot change a CHECK, so the table
-- is made again, its rows and the reports of embed keys kept), and the users and groups a
-- provider made or took over keep what SCIM knows of them and Vitrine does not: the provider's
-- userName and externalId, and the attributes it sent (names, emails) as it sent them.
CREATE TABLE api_key_reports_kept AS SELECT key_id, report_id FROM api_key_reports;

CREATE TABLE api_keys_rebuilt (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    secret_hash       BLOB NOT NULL UNIQUE,
    created_by        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    revoked_at        INTEGER,
    scope             TEXT NOT NULL DEFAULT 'admin'
                      CHECK (scope IN ('admin', 'embed', 'read', 'scim')),
    all_reports       INTEGER NOT NULL DEFAULT 1,
    expires_at        INTEGER,
    wake_capacity     INTEGER NOT NULL DEFAULT 0,
    keep_capacity_on  INTEGER NOT NULL DEFAULT 0,
    created_by_user   TEXT
);
INSERT INTO api_keys_rebuilt (id, org_id, name, prefix, secret_hash, created_by, created_at,
                              last_used_at, revoked_at, scope, all_reports, expires_at,
                              wake_capacity, keep_capacity_on, created_by_user)
    SELECT id, org_id, name, prefix, secret_hash, created_by, created_at, last_used_at,
           revoked_at, scope, all_reports, expires_at, wake_capacity, keep_capacity_on,
           created_by_user
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_rebuilt RENAME TO api_keys;
INSERT INTO api_key_reports (key_id, report_id) SELECT key_id, report_id FROM api_key_reports_kept;
DROP TABLE api_key_reports_kept;

CREATE TABLE scim_users (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_name    TEXT NOT NULL,
    external_id  TEXT,
    attributes   TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX scim_users_by_user_name ON scim_users(org_id, user_name);

CREATE TABLE scim_groups (
    group_id     TEXT PRIMARY KEY REFERENCES user_groups(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_id  TEXT
);
