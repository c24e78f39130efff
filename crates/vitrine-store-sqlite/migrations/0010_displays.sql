-- Screens paired by a code shown on them. Each is backed by a user of kind 'display' (no
-- password, never signs in), so that groups, report grants, row-level-security roles and
-- capacity permissions apply to it as to people. The screen holds a credential, kept here only
-- as its SHA-256 hash; while it rotates, the one before stays valid until `previous_until`.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';

CREATE TABLE displays (
    id                    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    show                  TEXT NOT NULL,
    credential_hash       BLOB NOT NULL UNIQUE,
    previous_hash         BLOB UNIQUE,
    previous_until        INTEGER,
    credential_issued_at  INTEGER NOT NULL,
    paired_at             INTEGER NOT NULL,
    paired_by             TEXT NOT NULL,
    last_seen_at          INTEGER,
    last_state            TEXT,
    last_detail           TEXT,
    user_agent            TEXT,
    offline_alerted_at    INTEGER
);
CREATE INDEX displays_by_org ON displays(org_id);
