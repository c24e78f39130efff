-- A host app's users, as embed keys mint tokens for them: no account, no password, known by the
-- host's own id within one organization. Their token events name them.
CREATE TABLE embed_identities (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_id    TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    last_key_id    TEXT,
    UNIQUE (org_id, external_id)
);
CREATE INDEX embed_identities_by_org_seen ON embed_identities(org_id, last_seen_at);

ALTER TABLE token_events ADD COLUMN identity_id TEXT;
