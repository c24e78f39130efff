-- Who keeps each capacity on: the latest activity of each user holding capacity.keepOn, so that
-- the Capacity page's "keeping it on right now" survives restarts and is shared between nodes.

CREATE TABLE capacity_keepers (
    capacity_id  TEXT NOT NULL REFERENCES capacities(id) ON DELETE CASCADE,
    who          TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (capacity_id, who)
);
