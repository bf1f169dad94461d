//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
)

// TestEachListenerItsOwnBlocks runs one worker with two [server] blocks on
// two addresses: each address is answered by its own block (the loop used
// to hand every accepted connection to the last listener's blocks).
func TestEachListenerItsOwnBlocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		var listeners []proc.Listener
		text := fmt.Sprintf("backend = %s\nworker_connections = 100\nlog_level = error\n", backend)
		for i := 0; i < 3; i++ {
			root := filepath.Join(dir, "root"+strconv.Itoa(i))
			os.MkdirAll(root, 0o755)
			os.WriteFile(filepath.Join(root, "index.html"), []byte("block "+strconv.Itoa(i)+"\n"), 0o644)
			fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
			if err != nil {
				t.Fatal(err)
			}
			port, _ := reactor.LocalPort(fd)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			listeners = append(listeners, proc.Listener{Addr: addr, Fd: fd})
			text += fmt.Sprintf("[server]\nlisten = %s\nstatic_root = %s\n", addr, root)
		}
		cfg, err := config.Parse(filepath.Join(dir, "t.ini"), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		servertest.RunWorker(t, cfg, backend, logging.Error, listeners)
		for round := 0; round < 2; round++ {
			for i, l := range listeners {
				c, err := net.DialTimeout("tcp", l.Addr, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				res := readResponse(t, bufio.NewReader(c), false)
				c.Close()
				if want := "block " + strconv.Itoa(i) + "\n"; res.status != 200 || string(res.body) != want {
					t.Fatalf("%s: %d %q, want %q", l.Addr, res.status, res.body, want)
				}
			}
		}
	})
}
