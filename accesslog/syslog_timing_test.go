package accesslog

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSyslogWrite is BenchmarkWrite to a syslog server on this
// machine that reads every datagram: over UDP with a flush after every
// 16 lines (a busy worker's turn of the loop) and after every line (an
// idle worker's), and to a UNIX socket (a line each). drops/op is the
// share of lines the kernel refused.
func BenchmarkSyslogWrite(b *testing.B) {
	for _, bc := range []struct {
		name    string
		network string
		every   int
	}{{"udp-batch16", "udp", 16}, {"udp-each", "udp", 1}, {"unix", "unixgram", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			addr := "127.0.0.1:0"
			if bc.network == "unixgram" {
				addr = filepath.Join(b.TempDir(), "log.sock")
			}
			pc, err := net.ListenPacket(bc.network, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, 65536)
				r := pc.(net.Conn) // Read, unlike ReadFrom, allocates no address
				for {
					if _, err := r.Read(buf); err != nil {
						return
					}
				}
			}()
			dest := "syslog:server=" + pc.LocalAddr().String()
			if bc.network == "unixgram" {
				dest = "syslog:server=unix:" + addr
			}
			l, err := Open(dest)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Now(), Request: []byte("GET /index.html HTTP/1.1"),
				Status: 200, BodyBytes: 612, Headers: hdrs("http://a.example/", "Mozilla/5.0 (X11; Linux x86_64)")}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.Write(Combined, &e)
				if i++; i%bc.every == 0 {
					l.sys.Flush(e.Time)
				}
			}
			l.sys.Flush(e.Time)
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
		})
	}
}
