-- What several nodes share besides the data: a feed of changes read in order (on SQLite there
-- is one node, and the feed is read by it alone), and leases for once-per-installation jobs.
CREATE TABLE changes (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    node  TEXT NOT NULL,
    at    INTEGER NOT NULL,
    body  TEXT NOT NULL
);
CREATE INDEX changes_by_time ON changes(at);

CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
