-- Data where it lives: connections to an organization's databases (passwords sealed by the
-- server before they reach this table), a version for every dataset's data so it can be
-- replaced in place, what a source dataset reads and how, and the history of its imports.

CREATE TABLE connections (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    kind                   TEXT NOT NULL CHECK (kind IN ('postgres', 'mysql')),
    host                   TEXT NOT NULL,
    port                   INTEGER NOT NULL,
    database_name          TEXT NOT NULL,
    username               TEXT NOT NULL,
    password_sealed        BLOB NOT NULL,
    tls                    TEXT NOT NULL,
    max_connections        INTEGER NOT NULL,
    query_timeout_seconds  INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

-- `format` gains `source` (a direct dataset: no file); the table is rebuilt for its CHECK.
CREATE TABLE datasets_next (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    format                 TEXT NOT NULL CHECK (format IN ('csv', 'parquet', 'source')),
    location               TEXT NOT NULL,
    columns                TEXT NOT NULL,
    row_count              INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    version                INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    connection_id          TEXT REFERENCES connections(id),
    source_table           TEXT,
    source_sql             TEXT,
    mode                   TEXT CHECK (mode IN ('direct', 'imported')),
    refresh_every_minutes  INTEGER,
    UNIQUE (org_id, name)
);
INSERT INTO datasets_next (id, org_id, name, format, location, columns, row_count, created_at,
                           version, updated_at)
    SELECT id, org_id, name, format, location, columns, row_count, created_at, 1, created_at
    FROM datasets;
DROP TABLE datasets;
ALTER TABLE datasets_next RENAME TO datasets;
CREATE INDEX datasets_by_connection ON datasets (connection_id);

CREATE TABLE dataset_refreshes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    dataset_id   TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    trigger      TEXT NOT NULL CHECK (trigger IN ('created', 'manual', 'schedule')),
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    row_count    INTEGER,
    version      INTEGER,
    error        TEXT
);
CREATE INDEX dataset_refreshes_by_dataset ON dataset_refreshes (dataset_id, started_at DESC);
