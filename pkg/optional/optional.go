// Package optional holds Field, the one type the services' typed inputs use
// for a field that a request may leave out, send as null, or send with a
// value — the three states a partial update (PATCH) and a creation with
// defaults must tell apart:
//
//	not sent:   Field[T]{}                      Set false        — keep the column (or its default)
//	sent null:  Null[T]()                       Set, Null        — clear the column
//	sent value: Value(v)                        Set, not Null    — write v
//
// The adapters (pkg/httpapi, pkg/consoleweb, pkg/marketinput) build Fields while
// decoding a body; the services (pkg/market, pkg/account) read them. A field
// sent with an invalid value is left not Set: its message is in the input's
// Invalid instead.
//
// It is a leaf: it imports nothing from the module, so every service and
// adapter can use it without widening the import graph.
package optional

// Field is one field of an input that may be left out. Set tells whether the
// request named it; Null, whether it was sent as null; Value is what was sent
// (its zero value when not Set or Null).
type Field[T any] struct {
	Value T
	Set   bool
	Null  bool
}

// Value is a field sent with v.
func Value[T any](v T) Field[T] { return Field[T]{Value: v, Set: true} }

// Null is a field sent as null.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// FromPtr is a field that was sent: with *v, or as null when v is nil (the
// shape pkg/input's readers return for a nullable field).
func FromPtr[T any](v *T) Field[T] {
	if v == nil {
		return Null[T]()
	}
	return Value(*v)
}

// Ptr is a copy of the value sent: nil when the field is null or not sent.
func (f Field[T]) Ptr() *T {
	if !f.Set || f.Null {
		return nil
	}
	v := f.Value
	return &v
}
