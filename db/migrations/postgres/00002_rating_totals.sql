-- Rating totals kept on the ratee's users row by a trigger, so a user renders
-- rating_average / rating_count without aggregating user_rating on every read.
-- +goose Up
LOCK TABLE user_rating IN SHARE ROW EXCLUSIVE MODE;
ALTER TABLE users ADD COLUMN rating_count integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN rating_sum bigint NOT NULL DEFAULT 0;
UPDATE users u SET rating_count = r.cnt, rating_sum = r.total
FROM (SELECT ratee_id, COUNT(*) AS cnt, SUM(rating) AS total FROM user_rating GROUP BY ratee_id) r
WHERE u.userid = r.ratee_id;

-- +goose StatementBegin
CREATE FUNCTION user_rating_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE users SET rating_count = rating_count - 1, rating_sum = rating_sum - OLD.rating
        WHERE userid = OLD.ratee_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE users SET rating_count = rating_count + 1, rating_sum = rating_sum + NEW.rating
        WHERE userid = NEW.ratee_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER user_rating_totals AFTER INSERT OR DELETE OR UPDATE OF rating, ratee_id ON user_rating
FOR EACH ROW EXECUTE FUNCTION user_rating_totals();

-- +goose Down
DROP TRIGGER user_rating_totals ON user_rating;
DROP FUNCTION user_rating_totals();
ALTER TABLE users DROP COLUMN rating_sum;
ALTER TABLE users DROP COLUMN rating_count;
