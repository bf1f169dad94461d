//go:build linux

package http

import (
	"reflect"
	"testing"
)

// TestRequestResetClearsEveryField fills every field of a Request, resets
// it, and checks that all but the header table's entries are back to their
// reset values: a field added to Request without a line in Reset fails here.
func TestRequestResetClearsEveryField(t *testing.T) {
	var r Request
	v := reflect.ValueOf(&r).Elem()
	for i := 0; i < v.NumField(); i++ {
		fillNonZero(v.Field(i))
	}
	r.Reset()
	want := Request{ContentLength: -1}
	want.Headers = r.Headers // the table is left alone on purpose
	if r != want {
		t.Errorf("after Reset: %+v", r)
	}
}

// fillNonZero sets f to a value other than its zero value.
func fillNonZero(f reflect.Value) {
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Int, reflect.Int64:
		f.SetInt(7)
	case reflect.Uint8, reflect.Uint32:
		f.SetUint(7)
	case reflect.Struct:
		for i := 0; i < f.NumField(); i++ {
			fillNonZero(f.Field(i))
		}
	case reflect.Array:
		for i := 0; i < f.Len(); i++ {
			fillNonZero(f.Index(i))
		}
	default:
		panic("fillNonZero: unhandled kind " + f.Kind().String())
	}
}

func TestMethodString(t *testing.T) {
	tests := []struct {
		m    Method
		want string
	}{
		{MethodGet, "GET"}, {MethodHead, "HEAD"}, {MethodPost, "POST"},
		{MethodPut, "PUT"}, {MethodDelete, "DELETE"}, {MethodConnect, "CONNECT"},
		{MethodOptions, "OPTIONS"}, {MethodTrace, "TRACE"}, {MethodPatch, "PATCH"},
		{MethodOther, "OTHER"},
	}
	for _, tc := range tests {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%d.String() = %q, want %q", tc.m, got, tc.want)
		}
	}
}
