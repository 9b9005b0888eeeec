-- Scoped admin tokens and the audit trail. Neither is part of the change
-- feed: nothing routes by them. Times are milliseconds since the Unix
-- epoch, by the database's clock.

-- A token is kept only as the SHA-256 of its secret, in hex. `apps` is the
-- space-separated list of apps it is limited to, empty for every app.
-- Revoking a token deletes its row; the audit trail keeps its name.
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    apps TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT
);

-- Every admin action and every refused admin request: who (the token's
-- name, empty when none was recognized), from where, what, and the answer.
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    client TEXT NOT NULL,
    action TEXT NOT NULL,
    app TEXT,
    status INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_app ON audit (app, id);

-- The trail is append-only.
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION refuse_update();
