package vars

import (
	"errors"
	"testing"
)

// TestPrepared expands templates in two steps, the request's parts then
// the response's variables, and checks that the result is what one
// Append with every value gives; and that the response's variables are
// refused without Scope.Response.
func TestPrepared(t *testing.T) {
	req := &Values{Host: []byte("example.com"), URI: []byte("/a b"), RequestID: []byte("id1"), Args: []byte("q=1")}
	resp := &Values{Status: []byte("404"), UpstreamAddr: []byte("10.0.0.1:80, 10.0.0.2:80"), UpstreamStatus: []byte("502, 404")}
	all := *req
	all.Status, all.UpstreamAddr, all.UpstreamStatus = resp.Status, resp.UpstreamAddr, resp.UpstreamStatus
	tests := []struct {
		value, want string
	}{
		{"$request_id", "id1"},
		{"$status", "404"},
		{"${status}x$host", "404xexample.com"},
		{"$host$uri$is_args$args [$status] $upstream_addr|$upstream_status", "example.com/a%20b?q=1 [404] 10.0.0.1:80, 10.0.0.2:80|502, 404"},
		{"lit", "lit"},
		{"$upstream_addr", "10.0.0.1:80, 10.0.0.2:80"},
	}
	var p Prepared
	for round := 0; round < 2; round++ { // the second after a Reset
		p.Reset()
		var tmpls []Template
		for _, tt := range tests {
			tmpl, err := Scope{Response: true}.Parse(tt.value)
			if err != nil {
				t.Fatalf("%q: %v", tt.value, err)
			}
			tmpls = append(tmpls, tmpl)
			p.Add(tmpl, req)
		}
		if p.Len() != len(tests) {
			t.Fatalf("Len %d, want %d", p.Len(), len(tests))
		}
		for i, tt := range tests {
			if got := string(p.Append(nil, i, resp)); got != tt.want {
				t.Errorf("%q: prepared %q, want %q", tt.value, got, tt.want)
			}
			if got := string(tmpls[i].Append(nil, &all)); got != tt.want {
				t.Errorf("%q: Append %q, want %q", tt.value, got, tt.want)
			}
			if !tmpls[i].UsesResponse() != (tt.value == "$request_id" || tt.value == "lit") {
				t.Errorf("%q: UsesResponse %v", tt.value, tmpls[i].UsesResponse())
			}
		}
	}
	for _, v := range []string{"$status", "a${upstream_addr}", "$upstream_status"} {
		if _, err := Parse(v); !errors.Is(err, ErrUnknown) {
			t.Errorf("Parse(%q) without Response: %v, want ErrUnknown", v, err)
		}
	}
	if _, err := (Scope{Response: true}).Parse("$request_time"); !errors.Is(err, ErrUnknown) {
		t.Errorf("$request_time: %v, want ErrUnknown", err)
	}
}

// FuzzPrepared checks, for any value that parses with the response's
// variables, that expanding it in two steps (Prepared) gives what one
// Append with every value gives, next to other templates.
func FuzzPrepared(f *testing.F) {
	for _, s := range []string{"$request_id", "${status}x$host", "a $upstream_addr|$upstream_status b", "$http_x_a$uri$is_args$args", "lit", "$$", "${"} {
		f.Add(s, "h o", "200")
	}
	f.Fuzz(func(t *testing.T, value, host, status string) {
		tmpl, err := Scope{Response: true}.Parse(value)
		if err != nil {
			return
		}
		req := &Values{Host: []byte(host), URI: []byte("/u"), Args: []byte("a"), RequestID: []byte("id")}
		all := *req
		all.Status, all.UpstreamAddr, all.UpstreamStatus = []byte(status), []byte("a, b"), []byte("502, 200")
		var p Prepared
		other := MustParse("x$host")
		p.Add(other, req)
		p.Add(tmpl, req)
		p.Add(other, req)
		want := string(tmpl.Append(nil, &all))
		if got := string(p.Append(nil, 1, &all)); got != want {
			t.Fatalf("%q: prepared %q, Append %q", value, got, want)
		}
		if got := string(p.Append(nil, 2, &all)); got != "x"+string(appendSafe(nil, []byte(host))) {
			t.Fatalf("%q: the next template %q", value, got)
		}
	})
}
