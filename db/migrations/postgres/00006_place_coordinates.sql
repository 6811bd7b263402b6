-- Place (place.md §1): WGS84 coordinates on addresses, quotes and the
-- deliveries made from them, in decimal degrees rounded to 6 places (about
-- 11 cm). All nullable: rows imported from Django and every row of a client
-- that sends none have none. A pair is both or neither, and in range.
-- +goose Up
ALTER TABLE addresses
    ADD COLUMN latitude numeric(9,6),
    ADD COLUMN longitude numeric(9,6),
    ADD CONSTRAINT addresses_point_check CHECK (
        (latitude IS NULL) = (longitude IS NULL)
        AND (latitude IS NULL OR latitude BETWEEN -90 AND 90)
        AND (longitude IS NULL OR longitude BETWEEN -180 AND 180));

ALTER TABLE delivery_quotes
    ADD COLUMN pickup_latitude numeric(9,6),
    ADD COLUMN pickup_longitude numeric(9,6),
    ADD COLUMN delivery_latitude numeric(9,6),
    ADD COLUMN delivery_longitude numeric(9,6),
    ADD CONSTRAINT delivery_quotes_pickup_point_check CHECK (
        (pickup_latitude IS NULL) = (pickup_longitude IS NULL)
        AND (pickup_latitude IS NULL OR pickup_latitude BETWEEN -90 AND 90)
        AND (pickup_longitude IS NULL OR pickup_longitude BETWEEN -180 AND 180)),
    ADD CONSTRAINT delivery_quotes_delivery_point_check CHECK (
        (delivery_latitude IS NULL) = (delivery_longitude IS NULL)
        AND (delivery_latitude IS NULL OR delivery_latitude BETWEEN -90 AND 90)
        AND (delivery_longitude IS NULL OR delivery_longitude BETWEEN -180 AND 180));

ALTER TABLE deliveries
    ADD COLUMN pickup_latitude numeric(9,6),
    ADD COLUMN pickup_longitude numeric(9,6),
    ADD COLUMN delivery_latitude numeric(9,6),
    ADD COLUMN delivery_longitude numeric(9,6),
    ADD CONSTRAINT deliveries_pickup_point_check CHECK (
        (pickup_latitude IS NULL) = (pickup_longitude IS NULL)
        AND (pickup_latitude IS NULL OR pickup_latitude BETWEEN -90 AND 90)
        AND (pickup_longitude IS NULL OR pickup_longitude BETWEEN -180 AND 180)),
    ADD CONSTRAINT deliveries_delivery_point_check CHECK (
        (delivery_latitude IS NULL) = (delivery_longitude IS NULL)
        AND (delivery_latitude IS NULL OR delivery_latitude BETWEEN -90 AND 90)
        AND (delivery_longitude IS NULL OR delivery_longitude BETWEEN -180 AND 180));

-- +goose Down
ALTER TABLE deliveries
    DROP COLUMN delivery_longitude,
    DROP COLUMN delivery_latitude,
    DROP COLUMN pickup_longitude,
    DROP COLUMN pickup_latitude;
ALTER TABLE delivery_quotes
    DROP COLUMN delivery_longitude,
    DROP COLUMN delivery_latitude,
    DROP COLUMN pickup_longitude,
    DROP COLUMN pickup_latitude;
ALTER TABLE addresses
    DROP COLUMN longitude,
    DROP COLUMN latitude;
