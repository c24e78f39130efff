-- The installation above organizations: its operators, its own audit log, organizations that
-- can be suspended and limited, and sessions that their owners can recognize and end.

ALTER TABLE organizations ADD COLUMN suspended_at INTEGER;
ALTER TABLE organizations ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';

-- An operator is a user account holding the installation's role.
CREATE TABLE operators (
    user_id     TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);

-- What operators did: kept when the organization it names is deleted.
CREATE TABLE installation_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor_id     TEXT NOT NULL,
    actor_label  TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    action       TEXT NOT NULL,
    old_value    TEXT,
    new_value    TEXT
);
CREATE INDEX installation_audit_by_time ON installation_audit(at);

ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
