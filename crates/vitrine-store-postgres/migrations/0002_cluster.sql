-- What several nodes share besides the data: a feed of changes every node reads in order
-- (appended under the write lock, so sequence numbers commit in order; announced on the
-- `vitrine_changes` channel), and leases for once-per-installation jobs.
CREATE TABLE changes (
    seq   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node  TEXT NOT NULL,
    at    BIGINT NOT NULL,
    body  TEXT NOT NULL
);
CREATE INDEX changes_by_time ON changes(at);

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
