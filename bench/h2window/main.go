//go:build linux

// Command h2window holds proxied HTTP/2 streams whose client cannot take
// more: bench/h2window.sh uses it to measure what a worker holds per
// such stream.
//
//	h2window backend ADDR SIZE
//	h2window client ADDR CONNS STREAMS PATH [SECONDS]
//
// backend serves HTTP/1.1 on ADDR: every request gets a SIZE-byte body
// (Content-Length) written in 16 KiB pieces, 1 ms apart (slowly: the
// proxy sees many small reads), until the connection takes no more.
// client opens CONNS h2c connections to ADDR, each announcing
// SETTINGS_INITIAL_WINDOW_SIZE = 0, and sends STREAMS GETs of PATH on
// each; it reads nothing but frames (no window is ever opened), prints
// "open K" once K streams have their response head, holds them
// (default 60 s) and exits.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: h2window backend ADDR SIZE | client ADDR CONNS STREAMS PATH [SECONDS]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "backend":
		size, _ := strconv.Atoi(os.Args[3])
		backend(os.Args[2], size)
	case "client":
		conns, _ := strconv.Atoi(os.Args[3])
		streams, _ := strconv.Atoi(os.Args[4])
		hold := 60
		if len(os.Args) > 6 {
			hold, _ = strconv.Atoi(os.Args[6])
		}
		client(os.Args[2], conns, streams, os.Args[5], hold)
	default:
		os.Exit(2)
	}
}

func backend(addr string, size int) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	piece := bytes.Repeat([]byte("y"), 16<<10)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
			for left := size; left > 0; left -= len(piece) {
				if _, err := c.Write(piece[:min(len(piece), left)]); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
}

func client(addr string, conns, streams int, path string, hold int) {
	var open atomic.Int64
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		c.Write([]byte(http2.ClientPreface))
		fr := http2.NewFramer(c, c)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		for i := range streams {
			hb.Reset()
			for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
				{Name: ":authority", Value: "bench"}, {Name: ":path", Value: path}} {
				enc.WriteField(f)
			}
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		}
		go func() {
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.HeadersFrame:
					open.Add(1)
				case *http2.SettingsFrame:
					if !f.IsAck() {
						fr.WriteSettingsAck()
					}
				}
			}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); open.Load() < int64(conns*streams) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("open", open.Load())
	time.Sleep(time.Duration(hold) * time.Second)
}
