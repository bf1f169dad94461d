//go:build linux

package proxy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestBalance(t *testing.T) {
	tests := []struct {
		name    string
		weights [3]int
		n       int
		want    [3]int64
	}{
		{name: "round robin", weights: [3]int{1, 1, 1}, n: 12, want: [3]int64{4, 4, 4}},
		{name: "weighted 3,1,1", weights: [3]int{3, 1, 1}, n: 15, want: [3]int64{9, 3, 3}},
		{name: "weighted 5,2,1", weights: [3]int{5, 2, 1}, n: 16, want: [3]int64{10, 4, 2}},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var bs [3]*httpBackend
				pass := ""
				for i := range bs {
					bs[i] = startBackend(t, fmt.Sprint("b", i), nil)
					pass += fmt.Sprintf("%s weight=%d, ", bs[i].addr, tt.weights[i])
				}
				ps := startProxy(t, backend, "proxy_pass = "+pass[:len(pass)-2]+"\n")
				cl := ps.client(t)
				for i := 0; i < tt.n; i++ {
					if res := cl.do(get("/x")); res.status != 200 {
						t.Fatalf("request %d: status %d", i, res.status)
					}
				}
				for i, b := range bs {
					if got := b.hits.Load(); got != tt.want[i] {
						t.Errorf("backend %d: %d requests, want %d", i, got, tt.want[i])
					}
				}
			})
		}
	})
}

// TestLeastConn occupies one backend with a slow request: every other
// request goes to the idle one.
func TestLeastConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		release := make(chan struct{})
		started := make(chan string, 2)
		h := func(name string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					started <- name
					select {
					case <-release:
					case <-time.After(10 * time.Second):
					}
				}
				w.Write([]byte(name))
			}
		}
		a := startBackend(t, "a", h("a"))
		b := startBackend(t, "b", h("b"))
		ps := startProxy(t, backend, "proxy_pass = "+a.addr+", "+b.addr+"\nbalance = least_conn\n")
		slow := ps.client(t)
		if _, err := slow.c.Write([]byte(get("/slow"))); err != nil {
			t.Fatal(err)
		}
		var busy string
		select {
		case busy = <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("slow request did not reach a backend")
		}
		cl := ps.client(t)
		for i := 0; i < 10; i++ {
			res := cl.do(get("/fast"))
			if res.status != 200 || res.header["x-backend"] == busy {
				t.Fatalf("request %d: status %d from %q while %q is busy", i, res.status, res.header["x-backend"], busy)
			}
		}
		close(release)
		if res := readResponse(t, slow.r, false); res.status != 200 || res.header["x-backend"] != busy {
			t.Fatalf("slow: %d from %q", res.status, res.header["x-backend"])
		}
		// Both idle again: shared evenly.
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			seen[cl.do(get("/fast")).header["x-backend"]]++
		}
		if seen["a"] != 2 || seen["b"] != 2 {
			t.Errorf("idle backends shared %v, want 2 each", seen)
		}
	})
}
