-- The import from the Django backend (web import-django).
-- Ratings of the old system name no delivery: the import attaches each to a
-- delivery the two users shared when one exists and keeps the others with no
-- delivery, so a driver's reputation (rating_count / rating_average) is what
-- the old system showed. Ratings made here always name one (the API picks it).
-- django_import records each source imported from; started_at of the first run is the time given
-- to fields the old rows lack (users' and vehicles' created_at / updated_at),
-- so a stopped run and its re-run write the same values.
-- +goose Up
ALTER TABLE user_rating ALTER COLUMN delivery_id DROP NOT NULL;

CREATE TABLE django_import (
    source      text PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);

-- +goose Down
DROP TABLE django_import;
-- Fails while imported ratings without a delivery exist: they are not dropped silently.
ALTER TABLE user_rating ALTER COLUMN delivery_id SET NOT NULL;
