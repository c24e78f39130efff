-- API keys get a scope, an optional list of reports (embed keys), an expiry, the capacity
-- rights of the tokens they mint, and the account of the administrator who made them (a key
-- stops working when that account is blocked, expires, loses its Admin role or is deleted).
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('admin', 'embed', 'read'));
ALTER TABLE api_keys ADD COLUMN all_reports INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN wake_capacity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN keep_capacity_on INTEGER NOT NULL DEFAULT 0;
-- No foreign key: a deleted creator must leave a key that refuses, not a key of nobody.
ALTER TABLE api_keys ADD COLUMN created_by_user TEXT;

-- Keys made before this by a signed-in administrator name them by email.
UPDATE api_keys SET created_by_user =
    (SELECT u.id FROM users u WHERE u.org_id = api_keys.org_id AND u.email = api_keys.created_by);

-- The reports an embed key may mint tokens for, when not all of them.
CREATE TABLE api_key_reports (
    key_id     TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    report_id  TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, report_id)
);
