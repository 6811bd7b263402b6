-- Place coordinates (see the PostgreSQL migration of the same number). SQLite
-- has no numeric(9,6): the columns are REAL, which holds the IEEE double the
-- Go side rounds to 6 decimals (geo.Round6) and gives it back bit for bit.
-- The pair and range rules are CHECKs on the second column of each pair
-- (SQLite's ADD COLUMN takes column constraints only, which may name the
-- table's other columns).
-- +goose Up
ALTER TABLE addresses ADD COLUMN latitude real CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90);
ALTER TABLE addresses ADD COLUMN longitude real CHECK (
    (latitude IS NULL) = (longitude IS NULL) AND (longitude IS NULL OR longitude BETWEEN -180 AND 180));

ALTER TABLE delivery_quotes ADD COLUMN pickup_latitude real CHECK (pickup_latitude IS NULL OR pickup_latitude BETWEEN -90 AND 90);
ALTER TABLE delivery_quotes ADD COLUMN pickup_longitude real CHECK (
    (pickup_latitude IS NULL) = (pickup_longitude IS NULL) AND (pickup_longitude IS NULL OR pickup_longitude BETWEEN -180 AND 180));
ALTER TABLE delivery_quotes ADD COLUMN delivery_latitude real CHECK (delivery_latitude IS NULL OR delivery_latitude BETWEEN -90 AND 90);
ALTER TABLE delivery_quotes ADD COLUMN delivery_longitude real CHECK (
    (delivery_latitude IS NULL) = (delivery_longitude IS NULL) AND (delivery_longitude IS NULL OR delivery_longitude BETWEEN -180 AND 180));

ALTER TABLE deliveries ADD COLUMN pickup_latitude real CHECK (pickup_latitude IS NULL OR pickup_latitude BETWEEN -90 AND 90);
ALTER TABLE deliveries ADD COLUMN pickup_longitude real CHECK (
    (pickup_latitude IS NULL) = (pickup_longitude IS NULL) AND (pickup_longitude IS NULL OR pickup_longitude BETWEEN -180 AND 180));
ALTER TABLE deliveries ADD COLUMN delivery_latitude real CHECK (delivery_latitude IS NULL OR delivery_latitude BETWEEN -90 AND 90);
ALTER TABLE deliveries ADD COLUMN delivery_longitude real CHECK (
    (delivery_latitude IS NULL) = (delivery_longitude IS NULL) AND (delivery_longitude IS NULL OR delivery_longitude BETWEEN -180 AND 180));

-- +goose Down
ALTER TABLE deliveries DROP COLUMN delivery_longitude;
ALTER TABLE deliveries DROP COLUMN delivery_latitude;
ALTER TABLE deliveries DROP COLUMN pickup_longitude;
ALTER TABLE deliveries DROP COLUMN pickup_latitude;
ALTER TABLE delivery_quotes DROP COLUMN delivery_longitude;
ALTER TABLE delivery_quotes DROP COLUMN delivery_latitude;
ALTER TABLE delivery_quotes DROP COLUMN pickup_longitude;
ALTER TABLE delivery_quotes DROP COLUMN pickup_latitude;
ALTER TABLE addresses DROP COLUMN longitude;
ALTER TABLE addresses DROP COLUMN latitude;
