-- Retention: how many of its newest deployments an app keeps (NULL: 20),
-- deployments pinned so that they are never pruned, and deployments
-- pruned (their blobs and compiled code may be deleted; their history
-- rows stay).
ALTER TABLE app_settings ADD COLUMN keep_deployments BIGINT;

CREATE TABLE pinned_deployments (
    app TEXT NOT NULL REFERENCES apps (name),
    digest TEXT NOT NULL,
    pinned_at BIGINT NOT NULL,
    pinned_by TEXT NOT NULL,
    PRIMARY KEY (app, digest)
);

CREATE TABLE pruned_deployments (
    deployment BIGINT PRIMARY KEY REFERENCES deployments (id),
    app TEXT NOT NULL,
    pruned_at BIGINT NOT NULL
);
