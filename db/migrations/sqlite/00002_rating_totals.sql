-- Rating totals kept on the ratee's users row by triggers, so a user renders
-- rating_average / rating_count without aggregating user_rating on every read.
-- +goose Up
ALTER TABLE users ADD COLUMN rating_count integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN rating_sum integer NOT NULL DEFAULT 0;
UPDATE users SET
    rating_count = (SELECT COUNT(*) FROM user_rating r WHERE r.ratee_id = users.userid),
    rating_sum = (SELECT COALESCE(SUM(r.rating), 0) FROM user_rating r WHERE r.ratee_id = users.userid);

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

-- +goose Down
DROP TRIGGER user_rating_totals_update;
DROP TRIGGER user_rating_totals_delete;
DROP TRIGGER user_rating_totals_insert;
ALTER TABLE users DROP COLUMN rating_sum;
ALTER TABLE users DROP COLUMN rating_count;
