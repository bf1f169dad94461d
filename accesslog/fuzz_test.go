package accesslog

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzEscape: whatever bytes a request holds, a value escaped for the
// json format is the inside of a valid JSON string, equal to the input
// when the input is valid UTF-8; escaped by default (nginx's), it holds
// no control byte, no byte from 0x7f and no bare '"'.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "GET / HTTP/1.1", "a\"b\\c", "\x00\x1f\x7f\xff", "é€😀", "\xc3\x28", "\xed\xa0\x80", "\t\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		js := appendJSON([]byte{'"'}, in)
		js = append(js, '"')
		var out string
		if err := json.Unmarshal(js, &out); err != nil {
			t.Fatalf("%q escaped as %s: not a JSON string: %v", in, js, err)
		}
		if utf8.Valid(in) && out != string(in) {
			t.Fatalf("%q decodes back as %q", in, out)
		}
		d := appendValue(nil, EscapeDefault, in)
		for i, c := range d {
			if c < 0x20 || c >= 0x7f || c == '"' {
				t.Fatalf("%q escaped by default as %q: byte %d is %#x", in, d, i, c)
			}
		}
		if len(in) == 0 && string(d) != "-" {
			t.Fatalf("empty value escaped as %q, want -", d)
		}
	})
}
