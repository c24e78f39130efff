-- Embed tokens: signing keys (private halves sealed under the master key), revocations
-- ("not before" instants per user, organization or report, in Unix milliseconds) and the
-- token audit trail.

CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,
    public_key          BLOB NOT NULL,
    sealed_private_key  BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    retired_at          INTEGER
);

CREATE TABLE token_revocations (
    scope       TEXT NOT NULL CHECK (scope IN ('user', 'org', 'report')),
    scope_id    TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id)
);

CREATE TABLE token_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      TEXT,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    user_id     TEXT,
    report_id   TEXT,
    token_id    TEXT,
    reason      TEXT,
    ip          TEXT,
    user_agent  TEXT,
    actor       TEXT
);
CREATE INDEX token_events_by_org_time ON token_events(org_id, at);
