//go:build linux

// Command h2idle opens N HTTP/2 connections over TLS (ALPN h2) to one
// address, makes one request on each, then holds them all idle: what a
// browser leaves behind. bench/h2compare.sh uses it to measure a server's
// memory per idle HTTP/2 connection (h2load cannot hold connections idle).
//
//	h2idle ADDR N PATH [SECONDS]
//
// It prints "open K" once K connections are open and answered, then
// sleeps (default 60 s) and exits. The certificate is not verified.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/net/http2"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: h2idle ADDR N PATH [SECONDS]")
		os.Exit(2)
	}
	addr, path := os.Args[1], os.Args[3]
	n, _ := strconv.Atoi(os.Args[2])
	hold := 60
	if len(os.Args) > 4 {
		hold, _ = strconv.Atoi(os.Args[4])
	}
	tr := &http2.Transport{}
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	var held []*http2.ClientConn
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			fmt.Println("dial:", err)
			break
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			fmt.Println("ALPN:", p)
			break
		}
		cc, err := tr.NewClientConn(c)
		if err != nil {
			fmt.Println("h2:", err)
			break
		}
		req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
		res, err := cc.RoundTrip(req)
		if err != nil {
			fmt.Println("request:", err)
			break
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		held = append(held, cc)
	}
	fmt.Println("open", len(held))
	os.Stdout.Sync()
	time.Sleep(time.Duration(hold) * time.Second)
}
