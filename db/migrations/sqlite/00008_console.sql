-- The staff console (see the PostgreSQL migration of the same number):
-- users.suspended_at / suspension_reason and the append-only staff_audit.
-- +goose Up
ALTER TABLE users ADD COLUMN suspended_at datetime;
ALTER TABLE users ADD COLUMN suspension_reason text;

CREATE TABLE staff_audit (
    id               text PRIMARY KEY,
    at               datetime NOT NULL,
    staff_account_id text NOT NULL REFERENCES staff_accounts (id),
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
CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit
BEGIN
    SELECT RAISE(ABORT, 'staff_audit is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER staff_audit_no_delete BEFORE DELETE ON staff_audit
BEGIN
    SELECT RAISE(ABORT, 'staff_audit is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE staff_audit;
ALTER TABLE users DROP COLUMN suspension_reason;
ALTER TABLE users DROP COLUMN suspended_at;
