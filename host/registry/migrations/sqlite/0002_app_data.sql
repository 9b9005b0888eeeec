-- What apps keep beside their deployments: configuration for wasi:config,
-- and key-value data for wasi:keyvalue.

-- Configuration values and secrets. Secrets reach the app like any value,
-- but the admin API never returns them.
CREATE TABLE app_config (
    app TEXT NOT NULL REFERENCES apps (name),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    secret BIGINT NOT NULL CHECK (secret IN (0, 1)),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app, key)
);

-- Key-value entries, each app in its own namespace. `size` is the bytes
-- of bucket, key and value plus a fixed overhead per entry, counted against
-- the app's quota.
CREATE TABLE kv_entries (
    app TEXT NOT NULL REFERENCES apps (name),
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (app, bucket, key)
);

-- The sum of `size` over an app's entries. Every write updates this row
-- first, which serializes an app's writes, increments among them, across
-- every server sharing the database.
CREATE TABLE kv_usage (
    app TEXT PRIMARY KEY REFERENCES apps (name),
    bytes BIGINT NOT NULL
);

-- Per-app settings: the origins the app may send outbound HTTP requests to
-- (one per line, added to the server's own list), and its key-value quota
-- in bytes (NULL: the server's default).
CREATE TABLE app_settings (
    app TEXT PRIMARY KEY REFERENCES apps (name),
    outbound TEXT NOT NULL,
    kv_quota BIGINT
);
