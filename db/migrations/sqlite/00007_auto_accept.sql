-- Automatic accept of the lowest offer (see the PostgreSQL migration of the
-- same number).
-- +goose Up
ALTER TABLE delivery_quotes ADD COLUMN auto_accept_lowest boolean NOT NULL DEFAULT 0;
ALTER TABLE delivery_quotes ADD COLUMN auto_accept_at datetime NULL;
CREATE INDEX delivery_quotes_auto_accept_at ON delivery_quotes (auto_accept_at) WHERE auto_accept_at IS NOT NULL;

-- +goose Down
DROP INDEX delivery_quotes_auto_accept_at;
ALTER TABLE delivery_quotes DROP COLUMN auto_accept_at;
ALTER TABLE delivery_quotes DROP COLUMN auto_accept_lowest;
