package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// StringList is a JSON array of strings stored in one column (jsonb on
// PostgreSQL, text on SQLite).
type StringList []string

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = StringList{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan StringList from %T", src)
	}
	out := []string{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan StringList: %w", err)
	}
	*l = out
	return nil
}

// Now is the wall clock in the form of every stored timestamp: UTC, truncated
// to the microsecond both PostgreSQL and the JSON format keep. It is the
// default of Store.Now, the clock the services read (tests give their store
// another one).
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
