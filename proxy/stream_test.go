//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	bigSize = 100 << 20
	slowFor = 500 * time.Millisecond
)

// maxGrowth is the RSS growth allowed while 100 MiB stream through. epoll
// stays near 2 MiB; io_uring near 30 MiB, because its StopRecv is lazy:
// what the multishot receive still delivers (up to the 8 MiB provided-
// buffer ring) is stashed and then handed to the proxy in one piece. The
// race detector's shadow memory doubles that.
func maxGrowth() int64 {
	if raceEnabled {
		return 96 << 20
	}
	return 48 << 20
}

// pattern is a deterministic stream of n bytes: a random 64 KiB block
// stamped with its index, so that lost, duplicated or reordered blocks
// change the checksum.
type pattern struct {
	block []byte
	off   int64
	n     int64
}

func newPattern(n int64) *pattern {
	b := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(b)
	return &pattern{block: b, n: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	bs := int64(len(p.block))
	i := p.off % bs
	if i == 0 {
		binary.LittleEndian.PutUint64(p.block, uint64(p.off/bs))
	}
	k := copy(b, p.block[i:])
	if rem := p.n - p.off; int64(k) > rem {
		k = int(rem)
	}
	p.off += int64(k)
	return k, nil
}

func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, newPattern(n))
	return hex.EncodeToString(h.Sum(nil))
}

// rss returns the process's resident set size from /proc/self/status.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// peakRSS samples RSS until stop is closed and returns the peak.
func peakRSS(t *testing.T, stop chan struct{}) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			if r := rss(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	return func() int64 { <-done; return peak.Load() }
}

// TestLargeBodies streams 100 MiB each way through the proxy with a slow
// reader on the far side; the bytes arrive intact and memory stays
// bounded (the client and the backend stream too, so growth is the
// proxy's).
func TestLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB transfers")
	}
	want := patternSum(bigSize)
	forEachBackend(t, func(t *testing.T, backend string) {
		b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/upload":
				time.Sleep(slowFor) // a slow reader at first
				h := sha256.New()
				n, err := io.Copy(h, r.Body)
				if err != nil {
					w.WriteHeader(500)
					return
				}
				fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			case "/download":
				w.Header().Set("Content-Length", strconv.Itoa(bigSize))
				io.Copy(w, newPattern(bigSize))
			}
		})
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\nmax_body_size = 0\n")
		runtime.GC()
		debug.FreeOSMemory()
		base := rss(t)

		t.Run("upload", func(t *testing.T) {
			stop := make(chan struct{})
			peak := peakRSS(t, stop)
			c := ps.dial(t)
			c.SetDeadline(time.Now().Add(120 * time.Second))
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", bigSize)
			if _, err := io.Copy(c, newPattern(bigSize)); err != nil {
				t.Fatal(err)
			}
			res := readResponse(t, bufio.NewReader(c), false)
			close(stop)
			if got := fmt.Sprintf("%d %s", bigSize, want); res.status != 200 || string(res.body) != got {
				t.Fatalf("upload: %d %q, want %q", res.status, res.body, got)
			}
			if g := peak() - base; g > maxGrowth() {
				t.Errorf("RSS grew %d MiB during the upload, want < %d", g>>20, maxGrowth()>>20)
			} else {
				t.Logf("upload: RSS growth %.1f MiB", float64(g)/(1<<20))
			}
		})
		t.Run("download", func(t *testing.T) {
			stop := make(chan struct{})
			peak := peakRSS(t, stop)
			c := ps.dial(t)
			c.SetDeadline(time.Now().Add(120 * time.Second))
			io.WriteString(c, get("/download"))
			r := bufio.NewReader(c)
			line, _ := r.ReadString('\n')
			if !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("status line %q", line)
			}
			hdr := map[string]string{}
			if err := readFields(r, hdr); err != nil {
				t.Fatal(err)
			}
			time.Sleep(slowFor) // a slow reader at first
			h := sha256.New()
			n, err := io.Copy(h, io.LimitReader(r, bigSize))
			close(stop)
			if err != nil || n != bigSize || hex.EncodeToString(h.Sum(nil)) != want {
				t.Fatalf("download: %d bytes, err %v, checksum ok %v", n, err, hex.EncodeToString(h.Sum(nil)) == want)
			}
			if g := peak() - base; g > maxGrowth() {
				t.Errorf("RSS grew %d MiB during the download, want < %d", g>>20, maxGrowth()>>20)
			} else {
				t.Logf("download: RSS growth %.1f MiB", float64(g)/(1<<20))
			}
		})
	})
}

var _ = bytes.Equal
