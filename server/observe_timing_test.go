//go:build linux

package server

import (
	"testing"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
)

// The cost of recording one request: metrics only (the access log off),
// for a response the server queues itself and for a streamed (proxied)
// one. Measured: see BENCHMARKS.md, "Metrics and access log formats".

func BenchmarkRecordLocal(b *testing.B) {
	c, req, buf, al := observeFixture(b)
	defer al.Close()
	c.vh.alog = nil
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	for b.Loop() {
		c.observe(req, buf, &r, false)
	}
}

func BenchmarkRecordStream(b *testing.B) {
	c, req, buf, al := streamFixture(b)
	defer al.Close()
	c.vh.alog = nil
	for b.Loop() {
		c.startStream(req, buf)
		c.SetResult(200, 1234)
		c.endStream()
	}
}

func BenchmarkRecordLocalLog(b *testing.B) {
	c, req, buf, al := observeFixture(b)
	defer al.Close()
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	for b.Loop() {
		c.observe(req, buf, &r, false)
	}
}

func BenchmarkRecordLocalJSON(b *testing.B) {
	c, req, buf, al := observeFixture(b)
	defer al.Close()
	c.vh.alogFmt = accesslog.Builtin("json")
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	for b.Loop() {
		c.s.reqIDSet = false // a new exchange: a new $request_id
		c.observe(req, buf, &r, false)
	}
}
