package tls

import (
	"bytes"
	ctls "crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCryptoInfoLayout checks the bytes given to setsockopt against
// linux/tls.h's struct tls12_crypto_info_aes_gcm_128 and _256.
func TestCryptoInfoLayout(t *testing.T) {
	for _, keyLen := range []int{16, 32} {
		k := kernelKeys{version: ctls.VersionTLS13, key: bytes.Repeat([]byte{0xaa}, keyLen),
			salt: [4]byte{1, 2, 3, 4}, iv: [8]byte{5, 6, 7, 8, 9, 10, 11, 12}, seq: 0x0102}
		b, err := k.cryptoInfo()
		if err != nil {
			t.Fatal(err)
		}
		wantLen := 4 + 8 + keyLen + 4 + 8 // sizeof: 40 for AES-128, 56 for AES-256
		wantCipher := map[int]uint16{16: 51, 32: 52}[keyLen]
		if len(b) != wantLen ||
			binary.NativeEndian.Uint16(b[0:]) != 0x0304 ||
			binary.NativeEndian.Uint16(b[2:]) != wantCipher ||
			!bytes.Equal(b[4:12], k.iv[:]) ||
			!bytes.Equal(b[12:12+keyLen], k.key) ||
			!bytes.Equal(b[12+keyLen:16+keyLen], k.salt[:]) ||
			binary.BigEndian.Uint64(b[16+keyLen:]) != 0x0102 {
			t.Errorf("AES-%d: % x", keyLen*8, b)
		}
	}
	if _, err := (&kernelKeys{key: make([]byte, 24)}).cryptoInfo(); err == nil {
		t.Error("a 24-byte key was accepted")
	}
}

// TestKTLSUnavailable keeps the connection in userspace when the kernel
// has no TLS offload (this machine's case), with a reason to log.
func TestKTLSUnavailable(t *testing.T) {
	ok, why := KTLSAvailable()
	if why == "" {
		t.Fatal("KTLSAvailable gives no reason")
	}
	if ok {
		t.Skip("this kernel has TLS offload: " + why)
	}
	t.Log(why)
	ctx, ca := testContext(t)
	ctx.SetKTLS(true)
	p := newMemPair(t, ctx, NewClientConfig("example.com", ca.pool, true))
	p.mustHandshake()
	if err := EnableKTLS(-1, p.server); !errors.Is(err, ErrKTLSUnavailable) {
		t.Fatalf("EnableKTLS error %v, want ErrKTLSUnavailable", err)
	}
	p.ping()
}

// TestEnableKTLS hands a real loopback TCP connection to the kernel and
// exchanges plaintext on the socket against a crypto/tls client. It needs
// a kernel with the tls ULP, and skips with the probe's reason otherwise.
func TestEnableKTLS(t *testing.T) {
	if ok, why := KTLSAvailable(); !ok {
		t.Skip(why)
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			ctx, ca := testContext(t)
			ctx.SetKTLS(true)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			clientEnd, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			serverEnd, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			l := newSockLoopOn(t, ctx, serverEnd, clientEnd)
			proceed := make(chan struct{})
			clientDone := make(chan error, 1)
			go func() {
				clientEnd.SetDeadline(time.Now().Add(testTimeout))
				c := ctls.Client(clientEnd, &ctls.Config{ServerName: "example.com", RootCAs: ca.pool, MaxVersion: v.version})
				err := c.Handshake()
				<-proceed
				if err == nil {
					_, err = io.WriteString(c, testRequest)
				}
				if err == nil {
					got := make([]byte, len(testResponse))
					if _, err = io.ReadFull(c, got); err == nil && string(got) != testResponse {
						err = errors.New("response differs")
					}
				}
				clientDone <- err
			}()
			err = l.handshake()
			if err == nil {
				raw, _ := serverEnd.(*net.TCPConn).SyscallConn()
				raw.Control(func(fd uintptr) { err = EnableKTLS(int(fd), l.conn) })
			}
			close(proceed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.conn.Read(make([]byte, 8)); !errors.Is(err, ErrKernelRecords) {
				t.Errorf("Read after EnableKTLS: %v", err)
			}
			// The reader goroutine now reads plaintext from the socket.
			var req []byte
			for !strings.HasSuffix(string(req), "\r\n\r\n") {
				select {
				case b := <-l.in:
					req = append(req, b...)
				case <-time.After(testTimeout):
					t.Fatal("no request")
				}
			}
			if string(req) != testRequest {
				t.Errorf("request %q", req)
			}
			if _, err := serverEnd.Write([]byte(testResponse)); err != nil {
				t.Fatal(err)
			}
			if err := <-clientDone; err != nil {
				t.Fatal(err)
			}
		})
	}
}
