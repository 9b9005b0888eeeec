-- The registry: apps, their append-only deployment history, the pointer to
-- what each app serves, and custom hostnames.

-- A single counter bumped by every change. Taking it first serializes
-- writers, so its values follow commit order and servers poll it to notice
-- changes.
CREATE TABLE feed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO feed (id, seq) VALUES (1, 0);

CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    current_deployment BIGINT,
    FOREIGN KEY (current_deployment, name) REFERENCES deployments (id, app)
);

CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL REFERENCES apps (name),
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    token_name TEXT NOT NULL,
    message TEXT NOT NULL,
    imports TEXT NOT NULL,
    exports TEXT NOT NULL,
    adapted BIGINT NOT NULL CHECK (adapted IN (0, 1)),
    UNIQUE (id, app)
);
CREATE INDEX deployments_by_app ON deployments (app, id);
CREATE INDEX deployments_by_digest ON deployments (digest);

-- Every pointer move, in order.
CREATE TABLE releases (
    seq BIGINT PRIMARY KEY,
    app TEXT NOT NULL,
    deployment BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('deploy', 'rollback', 'promote')),
    token_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (deployment, app) REFERENCES deployments (id, app)
);
CREATE INDEX releases_by_app ON releases (app, seq);

CREATE TABLE hostnames (
    hostname TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name)
);

-- History is append-only: rows are only ever removed with their whole app.
CREATE TRIGGER deployments_append_only BEFORE UPDATE ON deployments
BEGIN SELECT RAISE(ABORT, 'deployments are append-only'); END;
CREATE TRIGGER releases_append_only BEFORE UPDATE ON releases
BEGIN SELECT RAISE(ABORT, 'releases are append-only'); END;
