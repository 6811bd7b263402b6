package optional_test

import (
	"reflect"
	"testing"

	"hermez/pkg/optional"
)

func TestField(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		name      string
		f         optional.Field[string]
		set, null bool
		ptr       *string
	}{
		{"not sent", optional.Field[string]{}, false, false, nil},
		{"sent null", optional.Null[string](), true, true, nil},
		{"sent a value", optional.Value("ana"), true, false, s("ana")},
		{"sent the zero value", optional.Value(""), true, false, s("")},
		{"from a nil pointer", optional.FromPtr[string](nil), true, true, nil},
		{"from a pointer", optional.FromPtr(s("ana")), true, false, s("ana")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.f.Set != c.set || c.f.Null != c.null {
				t.Errorf("Set, Null = %v, %v; want %v, %v", c.f.Set, c.f.Null, c.set, c.null)
			}
			if got := c.f.Ptr(); !reflect.DeepEqual(got, c.ptr) {
				t.Errorf("Ptr() = %v; want %v", got, c.ptr)
			}
		})
	}
}

func TestFromPtrEqualsConstructors(t *testing.T) {
	t.Parallel()
	n := 41
	if got, want := optional.FromPtr(&n), optional.Value(41); got != want {
		t.Errorf("FromPtr(&41) = %+v; want %+v", got, want)
	}
	if got, want := optional.FromPtr[int](nil), optional.Null[int](); got != want {
		t.Errorf("FromPtr(nil) = %+v; want %+v", got, want)
	}
}

func TestPtrIsACopy(t *testing.T) {
	t.Parallel()
	f := optional.Value([]string{"frágil"})
	p := f.Ptr()
	*p = nil
	if f.Value == nil {
		t.Error("writing through Ptr() changed the field")
	}
}
