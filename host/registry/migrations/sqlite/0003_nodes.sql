-- The servers sharing this registry, each writing its own row on every
-- heartbeat. Times are milliseconds since the Unix epoch, by the writing
-- server's clock. Not part of the change feed: nothing routes by them.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    engine_tag TEXT NOT NULL,
    public_url TEXT NOT NULL,
    admin_url TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    requests_per_second DOUBLE PRECISION NOT NULL,
    instances_in_use BIGINT NOT NULL,
    instance_slots BIGINT NOT NULL
);
