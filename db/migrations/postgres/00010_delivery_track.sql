-- Live tracking (place.md §6): a delivery's trail, sampled while it is
-- assigned, picked up or in transit (a point every TRACK_SAMPLE_SECONDS or
-- after more than TRACK_SAMPLE_METERS of movement, and the last one before it
-- leaves the active states). One row per kept point; (delivery_id,
-- recorded_at) is the key, so a point written twice (a queue replayed after a
-- crash) is one row. Deleted with the delivery, and by the runner's retention
-- purge TRACK_RETENTION_DAYS after the delivery ended. The current location of
-- a user is never here (Redis, with a TTL).
-- +goose Up
CREATE TABLE delivery_track (
    delivery_id uuid NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    PRIMARY KEY (delivery_id, recorded_at)
);

-- +goose Down
DROP TABLE delivery_track;
