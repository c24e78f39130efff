-- Revocations may name a host app's user (an identity an embed key mints tokens for). SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE token_revocations_new (
    scope       TEXT NOT NULL CHECK (scope IN ('user', 'identity', 'org', 'report')),
    scope_id    TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id)
);
INSERT INTO token_revocations_new (scope, scope_id, not_before)
    SELECT scope, scope_id, not_before FROM token_revocations;
DROP TABLE token_revocations;
ALTER TABLE token_revocations_new RENAME TO token_revocations;
