//go:build linux

package proc_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/internal/testcert"
)

// confLine returns the 1-based line of conf's file that starts with
// prefix.
func confLine(t *testing.T, conf, prefix string) int {
	t.Helper()
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q in %s", prefix, conf)
	return 0
}

// replaceFile writes b over path by rename, as a deployment tool does.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// servedSerial makes one TLS request on a new connection and returns the
// serial number of the certificate the server presented.
func (ti *tlsInstance) servedSerial() (string, error) {
	return servedSerialWith(ti.client, ti.addr)
}

// healthSerial makes one TLS request to /healthz with c and returns the
// pid that answered and the serial number of the certificate it
// presented.
func healthSerial(c *http.Client, addr string) (int, string, error) {
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var h struct {
		PID int `json:"pid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, "", err
	}
	return h.PID, resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
}

// servedSerialWith is servedSerial with client c.
func servedSerialWith(c *http.Client, addr string) (string, error) {
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", &statusError{resp.StatusCode}
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }

// TestTLSBadCertificateReloadKeepsOld: reloads to a key that belongs to
// another certificate (named in the config, or written over the key file
// the config names) and to a certificate file that cannot be read are
// refused by `nproxy -s reload` (exit 1, FILE:LINE of the key), and TLS
// clients, handshaking all along on new connections, keep getting the old
// certificate with no failed request; a good reload then swaps it. On
// both backends.
func TestTLSBadCertificateReloadKeepsOld(t *testing.T) {
	for _, backend := range servertest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Setenv("NPROXY_TEST_BACKEND", backend)
			testBadCertificateReload(t)
		})
	}
}

func testBadCertificateReload(t *testing.T) {
	ti := startTLSMaster(t, 2)
	ti.waitChildren(2, 10*time.Second)
	oldSerial, err := ti.servedSerial()
	if err != nil {
		t.Fatal(err)
	}
	goodConf, err := os.ReadFile(ti.conf)
	if err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	_, otherKey := testcert.Write(t, otherDir, testcert.Options{DNSNames: []string{"a.test"}, CommonName: "other", Issuer: ti.ca, IssuerKey: ti.caKey})

	// Clients on new connections all along: each handshake must succeed
	// and, until the good reload, present the old certificate.
	var swapped atomic.Bool
	var failed, done, wrong atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mustBeOld := !swapped.Load()
				serial, err := ti.servedSerial()
				switch {
				case err != nil:
					failed.Add(1)
					t.Logf("request failed: %v", err)
				case mustBeOld && serial != oldSerial:
					wrong.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	waitDone := func(n int64) {
		t.Helper()
		target := done.Load() + n
		deadline := time.Now().Add(20 * time.Second)
		for done.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("the clients made %d requests, want %d", done.Load(), target)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitDone(20)

	keyLine := confLine(t, ti.conf, "tls_key =")
	certLine := confLine(t, ti.conf, "tls_cert =")
	goodKey, err := os.ReadFile(ti.key)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		prep   func() // makes the bad state
		undo   func()
		line   int
		reason string // in the message
	}{
		{
			name:   "tls_key names another certificate's key",
			prep:   func() { replaceFile(t, ti.conf, []byte(strings.Replace(string(goodConf), ti.key, otherKey, 1))) },
			undo:   func() { replaceFile(t, ti.conf, goodConf) },
			line:   keyLine,
			reason: "does not match the certificate",
		},
		{
			name:   "key file overwritten with another certificate's key",
			prep:   func() { replaceFile(t, ti.key, wrongKey) },
			undo:   func() { replaceFile(t, ti.key, goodKey) },
			line:   keyLine,
			reason: "does not match the certificate",
		},
		{
			name: "tls_cert cannot be read",
			prep: func() {
				replaceFile(t, ti.conf, []byte(strings.Replace(string(goodConf), ti.cert, filepath.Join(otherDir, "missing.crt"), 1)))
			},
			undo:   func() { replaceFile(t, ti.conf, goodConf) },
			line:   certLine,
			reason: "missing.crt",
		},
	}
	for _, b := range bad {
		b.prep()
		code, _, stderr := runCmd(t, ti.dir, "-s", "reload", "-c", ti.conf)
		want := regexp.MustCompile(regexp.QuoteMeta(ti.conf+":"+strconv.Itoa(b.line)+":") + ".*" + regexp.QuoteMeta(b.reason))
		if code == 0 || !want.MatchString(stderr) {
			t.Errorf("%s: -s reload exit %d, stderr %q; want non-zero and %v", b.name, code, stderr, want)
		}
		waitDone(20)
		if s, err := ti.servedSerial(); err != nil || s != oldSerial {
			t.Fatalf("%s: after the refused reload the server presents serial %s (%v), want the old %s", b.name, s, err, oldSerial)
		}
		b.undo()
	}

	// A good reload swaps the certificate.
	newCert, newKey := testcert.Write(t, t.TempDir(), testcert.Options{DNSNames: []string{"a.test"}, CommonName: "second", Issuer: ti.ca, IssuerKey: ti.caKey})
	for _, p := range [][2]string{{newCert, ti.cert}, {newKey, ti.key}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		replaceFile(t, p[1], b)
	}
	swapped.Store(true)
	if code, _, stderr := runCmd(t, ti.dir, "-s", "reload", "-c", ti.conf); code != 0 {
		t.Fatalf("good reload: exit %d: %s", code, stderr)
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ti.roots, ServerName: "a.test"}, DisableKeepAlives: true,
	}}
	// The reload's verdict comes once the new workers accept; the old
	// ones may still take a connection or two while they stop accepting.
	var got *x509.Certificate
	deadline := time.Now().Add(10 * time.Second)
	for got == nil || got.Subject.CommonName != "second" {
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served after the good reload (last: %v)", got.Subject)
		}
		resp, err := c.Get("https://" + ti.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = resp.TLS.PeerCertificates[0]
	}
	waitDone(20)
	stopLoad()
	if n, w := failed.Load(), wrong.Load(); n != 0 || w != 0 {
		t.Fatalf("of %d requests, %d failed and %d were served with another certificate before the good reload", done.Load(), n, w)
	}
}

// TestTLSRespawnAfterRefusedReloadKeepsOld: a reload refused because the
// key file was rewritten with another certificate's key leaves the old
// configuration running, and a worker respawned after that (one killed)
// serves the old certificate too: workers get the certificate and key the
// master validated, not what the files hold by then. On both backends.
func TestTLSRespawnAfterRefusedReloadKeepsOld(t *testing.T) {
	for _, backend := range servertest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Setenv("NPROXY_TEST_BACKEND", backend)
			ti := startTLSMaster(t, 2)
			kids := ti.waitChildren(2, 10*time.Second)
			// Both workers must be up before one is killed: a worker that
			// dies while the master starts makes the start fail.
			seen := map[int]bool{}
			for i := 0; i < 400 && len(seen) < 2; i++ {
				pid, _, err := ti.healthz(nil)
				if err != nil {
					t.Fatal(err)
				}
				seen[pid] = true
			}
			if !seen[kids[0]] || !seen[kids[1]] {
				t.Fatalf("400 connections reached workers %v, want both of %v", seen, kids)
			}
			oldSerial, err := ti.servedSerial()
			if err != nil {
				t.Fatal(err)
			}
			_, otherKey := testcert.Write(t, t.TempDir(), testcert.Options{DNSNames: []string{"a.test"}, CommonName: "other", Issuer: ti.ca, IssuerKey: ti.caKey})
			b, err := os.ReadFile(otherKey)
			if err != nil {
				t.Fatal(err)
			}
			replaceFile(t, ti.key, b)
			if code, _, stderr := runCmd(t, ti.dir, "-s", "reload", "-c", ti.conf); code == 0 {
				t.Fatalf("reload with another certificate's key: exit 0: %s", stderr)
			}
			if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// The respawned worker must come up and serve the old pair.
			deadline := time.Now().Add(10 * time.Second)
			for {
				now := children(ti.cmd.Process.Pid)
				if len(now) == 2 && !contains(now, kids[0]) {
					respawned := now[0]
					if respawned == kids[1] {
						respawned = now[1]
					}
					// A generous timeout: a connection that lands on the
					// respawned worker's socket waits until it runs.
					c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
						TLSClientConfig: &tls.Config{RootCAs: ti.roots, ServerName: "a.test"}, DisableKeepAlives: true,
					}}
					for i := 0; i < 200; i++ {
						pid, serial, err := healthSerial(c, ti.addr)
						if err != nil {
							t.Fatalf("request after the respawn: %v", err)
						}
						if pid != respawned {
							continue
						}
						if serial != oldSerial {
							t.Fatalf("the respawned worker serves serial %s, want the old %s", serial, oldSerial)
						}
						return
					}
					t.Fatal("200 connections, none on the respawned worker")
				}
				if time.Now().After(deadline) {
					t.Fatalf("no worker respawned: children %v (killed %d)\n%s", now, kids[0], ti.log())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
