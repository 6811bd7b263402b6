-- The lease of the relay/sweep/purge runner (issue 23): one row per lease,
-- held by one process (holder: host/pid/random) until expires_at and renewed
-- by it while it runs the jobs; another process takes it once it has expired.
-- A row taken and renewed by single statements works through a
-- transaction-mode pooler, where the session advisory lock it replaces did not.
-- +goose Up
CREATE TABLE runner_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE runner_leases;
