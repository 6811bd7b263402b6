-- The lease of the relay/sweep/purge runner (see the PostgreSQL migration).
-- One process on SQLite needs no lease; the table keeps the schemas alike.
-- +goose Up
CREATE TABLE runner_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at datetime NOT NULL
);

-- +goose Down
DROP TABLE runner_leases;
