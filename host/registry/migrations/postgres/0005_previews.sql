-- How an app's preview URLs answer: `public`, `token` or `off`. NULL, and
-- an app without a settings row, mean the default, `token`; apps made
-- before this version keep answering as they did, publicly.
ALTER TABLE app_settings ADD COLUMN preview_access TEXT;
INSERT INTO app_settings (app, outbound, kv_quota)
    SELECT name, '', NULL FROM apps WHERE name NOT IN (SELECT app FROM app_settings);
UPDATE app_settings SET preview_access = 'public';

-- Deployments an operator disabled: their preview URLs answer 410 and
-- they cannot go live until enabled again. By app and digest, since one
-- digest may be deployed to an app more than once.
CREATE TABLE disabled_deployments (
    app TEXT NOT NULL REFERENCES apps (name),
    digest TEXT NOT NULL,
    disabled_at BIGINT NOT NULL,
    disabled_by TEXT NOT NULL,
    PRIMARY KEY (app, digest)
);

-- One-time links that open a token-only preview in a browser: the SHA-256
-- of the link's secret (hex), the deployment it opens, until when, and
-- when it was used. Outside the change feed: nothing routes by them.
CREATE TABLE preview_grants (
    secret_sha256 TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name),
    digest TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
