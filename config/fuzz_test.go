package config

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns either a
// usable Config or an Errors, and that every problem is reported as
// "NAME:LINE: message" with LINE inside the input. Seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[server]\nlisten = 127.0.0.1:8080\n"))
	const name = "fuzz.ini"
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(name, data)
		if err == nil {
			if cfg == nil || len(cfg.Servers) == 0 {
				t.Fatalf("no error but config %+v", cfg)
			}
			for _, s := range cfg.Servers {
				if len(s.Listen) == 0 || s.Index == nil || s.Balance == "" {
					t.Fatalf("server without defaults: %+v", s)
				}
			}
			return
		}
		if cfg != nil {
			t.Fatal("both a config and an error")
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not Errors: %T %v", err, err)
		}
		lines := inputLines(data)
		for _, p := range errs {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("line %d outside 1..%d: %v", p.Line, lines, p)
			}
			prefix := name + ":" + strconv.Itoa(p.Line) + ": "
			if !strings.HasPrefix(p.Error(), prefix) || p.Msg == "" || p.Err == nil {
				t.Fatalf("malformed problem %q (kind %v)", p.Error(), p.Err)
			}
			if strings.Contains(p.Msg, "\n") {
				t.Fatalf("problem spans lines: %q", p.Error())
			}
		}
		if got := strings.Count(err.Error(), "\n") + 1; got != len(errs) {
			t.Fatalf("Error() has %d lines for %d problems", got, len(errs))
		}
	})
}

// inputLines is the number of lines of data as an editor shows them, at
// least 1.
func inputLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return max(n, 1)
}
