//go:build linux

package server_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowAttack is one kind of slow peer: how it opens its connection and
// what it does on it until the server closes it (or stop is closed).
type slowAttack struct {
	name string
	n    int // connections
	run  func(c net.Conn, stop <-chan struct{})
}

// paced writes one byte of b every pace until the write fails or stop is
// closed: a peer that sends, but too slowly.
func paced(b []byte, pace time.Duration) func(c net.Conn, stop <-chan struct{}) {
	return func(c net.Conn, stop <-chan struct{}) {
		for i := 0; ; i = (i + 1) % len(b) {
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(pace):
			}
		}
	}
}

// TestSlowPeers attacks a worker with slow peers on each backend (issue
// 11, section 3; slowhttptest's three modes): slowloris connections that
// send a request head a byte at a time, slow bodies whose bytes come less
// often than body_timeout, and slow readers that read a large file a few
// bytes at a time. While they hold their connections, other clients are
// served without a failure; header_timeout, body_timeout and send_timeout
// end every attacker's connection.
func TestSlowPeers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "header_timeout = 1s\nbody_timeout = 1s\nsend_timeout = 1s\n")
		big := bytes.Repeat([]byte("slow read "), slowFile/10)
		if err := os.WriteFile(filepath.Join(ts.root, "slow.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		attacks := []slowAttack{
			{name: "slowloris", n: 100, run: paced([]byte("GET /index.html HTTP/1.1\r\nHost: t\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"), 100*time.Millisecond)},
			{name: "slow body", n: 100, run: func(c net.Conn, stop <-chan struct{}) {
				io.WriteString(c, "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nx")
				go io.Copy(io.Discard, c) // the 405, sent at once
				paced([]byte("body"), 1500*time.Millisecond)(c, stop)
			}},
			{name: "slow read", n: 30, run: func(c net.Conn, stop <-chan struct{}) {
				io.WriteString(c, get("/slow.bin"))
				buf := make([]byte, 16)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}},
		}
		stop := make(chan struct{})
		var halt sync.Once
		var wg sync.WaitGroup
		defer func() { halt.Do(func() { close(stop) }); wg.Wait() }()
		total := 0
		for _, a := range attacks {
			for range a.n {
				c := dialSmallWindow(t, ts.addr)
				wg.Add(1)
				go func() { defer wg.Done(); a.run(c, stop) }()
			}
			total += a.n
		}

		// Other clients, on fresh connections, all along.
		var served, failed atomic.Int64
		var firstFailure atomic.Value
		victimsDone := make(chan struct{})
		go func() {
			defer close(victimsDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fetchSmall(ts.addr); err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				served.Add(1)
			}
		}()

		// The attackers hold their connections, and others are served
		// meanwhile; then the timeouts end every attacker.
		underAttack, peak := false, 0
		deadline := time.Now().Add(20 * time.Second)
		for {
			before := served.Load()
			n := serverConns(t, ts)
			peak = max(peak, n)
			if n > total/2 && served.Load() > before {
				underAttack = true
			}
			// Held, then ended: at least half of the attackers were open
			// at once (on a loaded machine the first ones may time out
			// before the last one is dialed), and now only this request
			// and perhaps a victim's are.
			if peak > total/2 && n <= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections still open 20s into the attack (peak %d, %d attackers)", n, peak, total)
			}
			time.Sleep(50 * time.Millisecond)
		}
		halt.Do(func() { close(stop) })
		<-victimsDone
		t.Logf("peak %d connections; %d requests of other clients served, %d failed", peak, served.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Fatalf("%d requests of other clients failed under the attack, the first: %v", failed.Load(), firstFailure.Load())
		}
		if !underAttack {
			t.Fatal("no other client was served while the attackers held their connections")
		}
	})
}

// fetchSmall gets /small.txt on a new connection.
func fetchSmall(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(b, smallBody) {
		return errors.New("not the 200 with small.txt: " + string(b[:min(len(b), 80)]))
	}
	return nil
}
