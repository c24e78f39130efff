-- Capacities: the compute reports run on, their state (one transition at a time), their mode
-- and schedule, the latest activity that keeps them on, and a timeline of their events.

CREATE TABLE capacities (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    provider          TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('Running', 'Pausing', 'Paused', 'Resuming', 'Failed')),
    mode              TEXT NOT NULL CHECK (mode IN ('manual', 'onDemand', 'schedule')),
    idle_minutes      INTEGER NOT NULL,
    schedule          TEXT NOT NULL,
    time_zone         TEXT NOT NULL,
    hourly_price      REAL NOT NULL,
    wake_from_viewer  INTEGER NOT NULL DEFAULT 1,
    state_since       INTEGER NOT NULL,
    last_activity     INTEGER,
    created_at        INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE capacity_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    capacity_id  TEXT NOT NULL REFERENCES capacities(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT,
    detail       TEXT
);
CREATE INDEX capacity_events_by_capacity ON capacity_events(capacity_id, at);

ALTER TABLE reports ADD COLUMN capacity_id TEXT REFERENCES capacities(id) ON DELETE SET NULL;
