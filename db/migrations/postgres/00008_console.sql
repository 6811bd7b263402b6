-- The staff console (console.md): app users can be suspended by staff, and
-- every console action that changes data leaves an audit entry.
--
-- staff_audit is append-only: a trigger refuses UPDATE and DELETE, so no
-- code path (console, API, a mistaken script) edits history; entries are kept.
-- changes is JSON: {"field": [before, after], ...}; object_id is text (app
-- user ids are Clerk's strings, the rest UUIDs).
-- +goose Up
ALTER TABLE users ADD COLUMN suspended_at timestamptz;
ALTER TABLE users ADD COLUMN suspension_reason text;

CREATE TABLE staff_audit (
    id               uuid PRIMARY KEY,
    at               timestamptz NOT NULL,
    staff_account_id uuid NOT NULL REFERENCES staff_accounts (id),
    object_kind      varchar(32) NOT NULL,
    object_id        text NOT NULL,
    action           varchar(64) NOT NULL,
    changes          text NOT NULL DEFAULT '{}',
    reason           text
);
CREATE INDEX staff_audit_at_idx ON staff_audit (at DESC, id);
CREATE INDEX staff_audit_object_idx ON staff_audit (object_kind, object_id, at DESC);
CREATE INDEX staff_audit_staff_idx ON staff_audit (staff_account_id, at DESC);

-- +goose StatementBegin
CREATE FUNCTION staff_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'staff_audit is append-only';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER staff_audit_append_only BEFORE UPDATE OR DELETE ON staff_audit
    FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only();

-- +goose Down
DROP TABLE staff_audit;
DROP FUNCTION staff_audit_append_only();
ALTER TABLE users DROP COLUMN suspension_reason;
ALTER TABLE users DROP COLUMN suspended_at;
