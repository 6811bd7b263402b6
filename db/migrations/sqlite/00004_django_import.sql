-- The import from the Django backend (web import-django): ratings may name no
-- delivery (the old system's never did), and django_import records the runs.
-- SQLite cannot drop NOT NULL in place: the table is rebuilt with its index and
-- the rating-total triggers of 00002.
-- +goose Up
CREATE TABLE user_rating_new (
    id          text PRIMARY KEY,
    ratee_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    rater_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    delivery_id text REFERENCES deliveries(id) ON DELETE RESTRICT,
    rating      integer NOT NULL CHECK (rating BETWEEN 0 AND 10),
    comment     varchar(1000),
    created_at  datetime NOT NULL,
    CONSTRAINT user_rating_rater_delivery_key UNIQUE (rater_id, delivery_id)
);
INSERT INTO user_rating_new (id, ratee_id, rater_id, delivery_id, rating, comment, created_at)
SELECT id, ratee_id, rater_id, delivery_id, rating, comment, created_at FROM user_rating;
DROP TABLE user_rating;
ALTER TABLE user_rating_new RENAME TO user_rating;
CREATE INDEX user_rating_ratee_id_idx ON user_rating (ratee_id);

-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_insert AFTER INSERT ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating WHERE userid = NEW.ratee_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_delete AFTER DELETE ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating WHERE userid = OLD.ratee_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_update AFTER UPDATE OF rating, ratee_id ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating WHERE userid = OLD.ratee_id;
    UPDATE users SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating WHERE userid = NEW.ratee_id;
END;
-- +goose StatementEnd

CREATE TABLE django_import (
    source      text PRIMARY KEY,
    started_at  datetime NOT NULL,
    finished_at datetime
);

-- +goose Down
DROP TABLE django_import;
CREATE TABLE user_rating_old (
    id          text PRIMARY KEY,
    ratee_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    rater_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    delivery_id text NOT NULL REFERENCES deliveries(id) ON DELETE RESTRICT,
    rating      integer NOT NULL CHECK (rating BETWEEN 0 AND 10),
    comment     varchar(1000),
    created_at  datetime NOT NULL,
    CONSTRAINT user_rating_rater_delivery_key UNIQUE (rater_id, delivery_id)
);
-- Fails (NOT NULL) while ratings without a delivery exist: they are not dropped silently.
INSERT INTO user_rating_old SELECT id, ratee_id, rater_id, delivery_id, rating, comment, created_at FROM user_rating;
DROP TABLE user_rating;
ALTER TABLE user_rating_old RENAME TO user_rating;
CREATE INDEX user_rating_ratee_id_idx ON user_rating (ratee_id);
-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_insert AFTER INSERT ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating WHERE userid = NEW.ratee_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_delete AFTER DELETE ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating WHERE userid = OLD.ratee_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER user_rating_totals_update AFTER UPDATE OF rating, ratee_id ON user_rating BEGIN
    UPDATE users SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating WHERE userid = OLD.ratee_id;
    UPDATE users SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating WHERE userid = NEW.ratee_id;
END;
-- +goose StatementEnd
