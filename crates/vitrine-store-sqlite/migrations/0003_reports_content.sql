-- Report content: datasets, report definitions, and row-level-security roles and attributes
-- assigned to users and groups.

CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    format      TEXT NOT NULL CHECK (format IN ('csv', 'parquet')),
    -- Where the data lives: a file Vitrine keeps in its data directory, or a registered path.
    location    TEXT NOT NULL,
    columns     TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

ALTER TABLE reports ADD COLUMN definition TEXT;

CREATE TABLE user_rls_roles (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE group_rls_roles (
    group_id  TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (group_id, role)
);

CREATE TABLE user_attributes (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE group_attributes (
    group_id  TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (group_id, name)
);
