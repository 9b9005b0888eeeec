-- Per-app limits below the server's: the request deadline and CPU time in
-- milliseconds, the memory and request body caps in bytes, and the
-- instances the app may hold at once. NULL: the server's own.
ALTER TABLE app_settings ADD COLUMN deadline_ms BIGINT;
ALTER TABLE app_settings ADD COLUMN cpu_time_ms BIGINT;
ALTER TABLE app_settings ADD COLUMN memory_bytes BIGINT;
ALTER TABLE app_settings ADD COLUMN max_body_bytes BIGINT;
ALTER TABLE app_settings ADD COLUMN max_instances BIGINT;
