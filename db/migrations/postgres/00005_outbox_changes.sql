-- One outbox row per change: a change that causes several frames (an accept
-- causes 17) writes them as one row, `frames` holding them all (a JSON array,
-- in publish order) and `heads` the resource, version and groups they are
-- about, which the relay reads to skip frames a newer published frame
-- superseded. A change with one frame, and every row written before this
-- migration, keeps the frame in the row's own columns (frames NULL). The
-- relay reads the heads of published rows newer than the oldest row it
-- relays (one resource's changes get increasing ids: each holds the
-- resource's row lock), so the resource index is no longer needed.
-- +goose Up
ALTER TABLE outbox_events ADD COLUMN frames text;
ALTER TABLE outbox_events ADD COLUMN heads text NOT NULL DEFAULT '';
DROP INDEX outbox_events_resource_idx;

-- +goose Down
-- Fails while rows holding several frames exist (they would be lost); the
-- relay publishes them within seconds, the purge removes them after a day.
-- +goose StatementBegin
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM outbox_events WHERE frames IS NOT NULL) THEN
        RAISE EXCEPTION 'outbox rows holding several frames exist: run the previous version until they are purged';
    END IF;
END $$;
-- +goose StatementEnd
CREATE INDEX outbox_events_resource_idx ON outbox_events (resource, group_name, version) WHERE resource <> '';
ALTER TABLE outbox_events DROP COLUMN heads;
ALTER TABLE outbox_events DROP COLUMN frames;
