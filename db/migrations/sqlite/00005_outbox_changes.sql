-- One outbox row per change (see the PostgreSQL migration of the same
-- number): `frames` holds a change's frames when it has several, `heads`
-- what they are about; the resource index is no longer read.
-- +goose Up
ALTER TABLE outbox_events ADD COLUMN frames text;
ALTER TABLE outbox_events ADD COLUMN heads text NOT NULL DEFAULT '';
DROP INDEX outbox_events_resource_idx;

-- +goose Down
-- Rows holding several frames would lose them: the relay publishes them
-- within seconds, so stop the processes and let it finish first.
CREATE INDEX outbox_events_resource_idx ON outbox_events (resource, group_name, version) WHERE resource <> '';
ALTER TABLE outbox_events DROP COLUMN heads;
ALTER TABLE outbox_events DROP COLUMN frames;
