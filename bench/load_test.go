//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

func body(n int) []byte { return bytes.Repeat([]byte("x"), n) }

func getRequest(extra string) []byte {
	return []byte("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n")
}

func newTestServer(t *testing.T, reply []byte, closeAfter bool) *fixedServer {
	t.Helper()
	s, err := startFixedServer("127.0.0.1:0", reply, closeAfter, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestCountModeIsExact(t *testing.T) {
	tests := []struct {
		name        string
		conns, pipe int
		requests    int64
		closeEach   bool
		loops       int
	}{
		{name: "one", conns: 1, pipe: 1, requests: 1},
		{name: "fewer requests than conns", conns: 8, pipe: 1, requests: 3},
		{name: "keep-alive", conns: 8, pipe: 1, requests: 1000},
		{name: "pipelined", conns: 7, pipe: 4, requests: 1001},
		{name: "deep pipeline", conns: 4, pipe: 16, requests: 5003},
		{name: "two loops", conns: 10, pipe: 2, requests: 999, loops: 2},
		{name: "churn", conns: 4, pipe: 1, requests: 200, closeEach: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, fixedReply(200, body(1024)), false)
			req := getRequest("")
			if tt.closeEach {
				req = getRequest("Connection: close\r\n")
			}
			var cpus []int
			for i := 0; i < tt.loops; i++ {
				cpus = append(cpus, testCPUs(t)[0])
			}
			res, err := Run(context.Background(), Load{
				Addr: srv.Addr(), Request: req, Connections: tt.conns, Pipeline: tt.pipe,
				Requests: tt.requests, CloseEach: tt.closeEach, ExpectLength: 1024, CPUs: cpus,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Responses != uint64(tt.requests) || res.Sent != uint64(tt.requests) {
				t.Errorf("responses %d, sent %d, want %d", res.Responses, res.Sent, tt.requests)
			}
			if got := srv.Requests(); got != uint64(tt.requests) {
				t.Errorf("server saw %d requests, want %d", got, tt.requests)
			}
			if res.Errors.Total() != 0 {
				t.Errorf("errors: %s", res.Errors.String())
			}
			if res.Latency.Count() != uint64(tt.requests) {
				t.Errorf("latency count %d, want %d", res.Latency.Count(), tt.requests)
			}
			if want := uint64(tt.requests) * 1024; res.BodyBytes != want {
				t.Errorf("body bytes %d, want %d", res.BodyBytes, want)
			}
			if tt.closeEach && res.Connects != uint64(tt.requests) {
				t.Errorf("churn made %d connections, want %d", res.Connects, tt.requests)
			}
		})
	}
}

func TestValidationCatchesBadAnswers(t *testing.T) {
	short := fixedReply(200, body(1024))
	short = short[:len(short)-24] // head says 1024, 1000 come, then close
	tests := []struct {
		name       string
		reply      []byte
		closeAfter bool
		want       func(e *Errors) uint64
	}{
		{name: "status 500", reply: fixedReply(500, body(1024)), want: func(e *Errors) uint64 { return e.Status }},
		{name: "status 404", reply: fixedReply(404, body(1024)), want: func(e *Errors) uint64 { return e.Status }},
		{name: "wrong length", reply: fixedReply(200, body(1000)), want: func(e *Errors) uint64 { return e.Length }},
		{name: "short body", reply: short, closeAfter: true, want: func(e *Errors) uint64 { return e.Length }},
		{name: "garbage", reply: []byte("HTTP/1.1 2x0 OK\r\n\r\n"), want: func(e *Errors) uint64 { return e.Malformed }},
	}
	const n = 20
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, tt.reply, tt.closeAfter)
			res, err := Run(context.Background(), Load{
				Addr: srv.Addr(), Request: getRequest(""), Connections: 2, Requests: n, ExpectLength: 1024,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.want(&res.Errors); got != n {
				t.Errorf("counted %d, want %d (errors: %s)", got, n, res.Errors.String())
			}
			if res.Errors.Total() != n {
				t.Errorf("total errors %d, want %d: %s", res.Errors.Total(), n, res.Errors.String())
			}
		})
	}
}

func TestCloseDelimitedBody(t *testing.T) {
	reply := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"), body(1024)...)
	srv := newTestServer(t, reply, true)
	res, err := Run(context.Background(), Load{
		Addr: srv.Addr(), Request: getRequest(""), Connections: 3, Requests: 30, ExpectLength: 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses != 30 || res.Errors.Total() != 0 {
		t.Errorf("responses %d errors %s, want 30 and none", res.Responses, res.Errors.String())
	}
}

func TestDurationMode(t *testing.T) {
	srv := newTestServer(t, fixedReply(200, body(100)), false)
	res, err := Run(context.Background(), Load{
		Addr: srv.Addr(), Request: getRequest(""), Connections: 4, Pipeline: 2,
		Duration: 200 * time.Millisecond, ExpectLength: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses == 0 || res.Errors.Total() != 0 {
		t.Errorf("responses %d errors %s", res.Responses, res.Errors.String())
	}
	if res.Responses > srv.Requests() {
		t.Errorf("%d responses for %d requests the server read", res.Responses, srv.Requests())
	}
}

// TestOpenLoopHoldsRate counts scheduled sends, not time: 2000 req/s for one
// second must make 2000 sends (within 5%) whatever the machine's speed,
// because sends are scheduled, not paced by answers.
func TestOpenLoopHoldsRate(t *testing.T) {
	srv := newTestServer(t, fixedReply(200, body(1024)), false)
	res, err := Run(context.Background(), Load{
		Addr: srv.Addr(), Request: getRequest(""), Connections: 16, Rate: 2000,
		Duration: time.Second, ExpectLength: 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 1900 || res.Sent > 2100 {
		t.Errorf("sent %d requests at 2000/s for 1s, want 2000 ± 5%%", res.Sent)
	}
	if res.Errors.Total() != 0 {
		t.Errorf("errors: %s", res.Errors.String())
	}
}

// TestOpenLoopCountMode checks that an open-loop run with a request count
// sends exactly that many.
func TestOpenLoopCountMode(t *testing.T) {
	srv := newTestServer(t, fixedReply(200, body(10)), false)
	res, err := Run(context.Background(), Load{
		Addr: srv.Addr(), Request: getRequest(""), Connections: 4, Rate: 5000,
		Requests: 500, ExpectLength: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses != 500 || srv.Requests() != 500 {
		t.Errorf("responses %d, server %d, want 500", res.Responses, srv.Requests())
	}
}

func TestConnectRefused(t *testing.T) {
	srv := newTestServer(t, fixedReply(200, nil), false)
	addr := srv.Addr()
	srv.Close()
	_, err := Run(context.Background(), Load{Addr: addr, Request: getRequest(""), Requests: 10})
	if err == nil {
		t.Fatal("Run against a closed port returned no error")
	}
}

func TestTimeout(t *testing.T) {
	// A request head that never ends is never answered.
	srv := newTestServer(t, fixedReply(200, nil), false)
	res, err := Run(context.Background(), Load{
		Addr: srv.Addr(), Request: []byte("GET / HTTP/1.1\r\n"), Requests: 2, Connections: 2,
		Timeout: 150 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Timeout != 2 {
		t.Errorf("timeouts %d, want 2 (%s)", res.Errors.Timeout, res.Errors.String())
	}
}

// stallingServer answers every request at once, except that it waits
// stall before its first answer.
func stallingServer(t *testing.T, stall time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	reply := fixedReply(200, body(10))
	go func() {
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if line != "\r\n" {
						continue
					}
					if first {
						first = false
						time.Sleep(stall) // the stall under test
					}
					if _, err := c.Write(reply); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// TestOpenLoopChargesStalls checks that open-loop latency counts from the
// scheduled send: when the server stalls 200 ms, every request scheduled
// during the stall is late by the rest of it, so at least the requests of the
// first 100 ms (about 100 of them at 1000/s) show 100 ms or more. A closed
// loop would show one slow request. Only lower bounds are asserted: a slower
// machine only makes latencies longer.
func TestOpenLoopChargesStalls(t *testing.T) {
	addr := stallingServer(t, 200*time.Millisecond)
	res, err := Run(context.Background(), Load{
		Addr: addr, Request: getRequest(""), Connections: 1, Rate: 1000,
		Requests: 400, ExpectLength: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses != 400 {
		t.Fatalf("%d responses, want 400 (%s)", res.Responses, res.Errors.String())
	}
	// At least 90 of 400 values are >= 100 ms: the value at rank 311 is.
	if p := res.Latency.Percentile(311.0 / 400); p < 100*time.Millisecond {
		t.Errorf("p77.75 = %v, want >= 100ms: the stall was not charged to the requests it delayed", p)
	}
	if res.Latency.Max() < 200*time.Millisecond {
		t.Errorf("max %v, want >= 200ms", res.Latency.Max())
	}
}
