-- Automatic accept of the lowest offer (place.md §7): the client's choice and
-- the instant it fires (first pending offer's created_at +
-- AUTO_ACCEPT_DELAY_SECONDS; null while off or without a pending offer). The
-- partial index is what the accept loop of every runner reads each tick.
-- +goose Up
ALTER TABLE delivery_quotes ADD COLUMN auto_accept_lowest boolean NOT NULL DEFAULT false;
ALTER TABLE delivery_quotes ADD COLUMN auto_accept_at timestamp with time zone NULL;
CREATE INDEX delivery_quotes_auto_accept_at ON delivery_quotes (auto_accept_at) WHERE auto_accept_at IS NOT NULL;

-- +goose Down
DROP INDEX delivery_quotes_auto_accept_at;
ALTER TABLE delivery_quotes DROP COLUMN auto_accept_at;
ALTER TABLE delivery_quotes DROP COLUMN auto_accept_lowest;
