-- A delivery's sampled trail (see the PostgreSQL migration).
-- +goose Up
CREATE TABLE delivery_track (
    delivery_id text NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    recorded_at datetime NOT NULL,
    latitude    real NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   real NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    PRIMARY KEY (delivery_id, recorded_at)
);

-- +goose Down
DROP TABLE delivery_track;
