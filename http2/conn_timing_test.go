//go:build linux && !race

package http2

import (
	"testing"

	xhttp2 "golang.org/x/net/http2"
)

func BenchmarkRequestResponse(b *testing.B) {
	for _, tc := range []struct {
		name string
		post bool
	}{{"GET", false}, {"POST", true}} {
		b.Run(tc.name, func(b *testing.B) {
			s := newSteadyConn(b, tc.post)
			b.ReportAllocs()
			b.SetBytes(int64(len(s.in)))
			for b.Loop() {
				s.run(b)
			}
		})
	}
}

// BenchmarkDownload1MiB frames a 1 MiB response body through WriteData
// and Output into a 64 KiB send buffer, as the server would, with the
// client's windows open (Go's client opens 4 MiB per stream and 1 GiB
// per connection).
func BenchmarkDownload1MiB(b *testing.B) {
	body := make([]byte, 1<<20)
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p := newPeer(b, nil, false)
		p.fr.WriteWindowUpdate(0, 1<<30)
		p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 4 << 20})
		sent := 0
		write := func(id uint32) {
			n, _ := p.c.WriteData(id, body[sent:], true)
			sent += n
		}
		p.rec.respond = func(id uint32, h *RequestHead, end bool) {
			p.c.Respond(id, 200, nil, false)
			write(id)
		}
		p.rec.writable = write
		p.get(1, "/")
		p.c.Feed(p.in.Bytes())
		for sent < len(body) || p.c.Pending() > 0 {
			buf = p.c.Output(buf[:0])
		}
	}
}
