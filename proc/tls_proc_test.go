//go:build linux

package proc_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

// tlsInstance is a master serving TLS with a certificate signed by a test
// CA, for names a.test.
type tlsInstance struct {
	*instance
	ca     *x509.Certificate
	caKey  crypto.Signer
	roots  *x509.CertPool
	cert   string
	key    string
	client *http.Client
}

func startTLSMaster(t *testing.T, workers int) *tlsInstance {
	t.Helper()
	in := newInstance(t, workers)
	_, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	cert, key := testcert.Write(t, in.dir, testcert.Options{DNSNames: []string{"a.test"}, CommonName: "first", Issuer: ca, IssuerKey: caKey})
	root := in.root("site", "TLS\n")
	backend := ""
	if b := os.Getenv("NPROXY_TEST_BACKEND"); b != "" {
		backend = "backend = " + b + "\n"
	}
	conf := fmt.Sprintf("worker_processes = %d\npid_file = %s\n%s[server]\nlisten = %s\nserver_name = a.test\nstatic_root = %s\ntls_cert = %s\ntls_key = %s\n",
		workers, in.pidFile, backend, in.addr, root, cert, key)
	if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ti := &tlsInstance{instance: in, ca: ca, caKey: caKey, roots: roots, cert: cert, key: key}
	ti.client = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "a.test"},
		DisableKeepAlives: true,
	}}
	in.run("-c", in.conf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := ti.client.Get("https://" + in.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return ti
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nproxy does not answer TLS on %s: %v\n%s", in.addr, err, in.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthz makes one TLS request on a new connection with cfg and returns the
// worker pid /healthz names and the connection state.
func (ti *tlsInstance) healthz(cache tls.ClientSessionCache) (int, tls.ConnectionState, error) {
	var st tls.ConnectionState
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ti.roots, ServerName: "a.test", ClientSessionCache: cache},
		DisableKeepAlives: true,
	}}
	resp, err := c.Get("https://" + ti.addr + "/healthz")
	if err != nil {
		return 0, st, err
	}
	defer resp.Body.Close()
	var h struct {
		PID int `json:"pid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, st, err
	}
	if resp.TLS != nil {
		st = *resp.TLS
	}
	return h.PID, st, nil
}

// TestTLSResumptionAcrossWorkers: a session made on one worker resumes on
// the other (the master's shared ticket keys), on TLS 1.2 and 1.3.
func TestTLSResumptionAcrossWorkers(t *testing.T) {
	ti := startTLSMaster(t, 2)
	ti.waitChildren(2, 10*time.Second)
	cache := tls.NewLRUClientSessionCache(1)
	first, _, err := ti.healthz(cache)
	if err != nil {
		t.Fatal(err)
	}
	// SO_REUSEPORT spreads new connections by hash of the source port:
	// try until one lands on the other worker.
	for i := 0; i < 200; i++ {
		pid, st, err := ti.healthz(cache)
		if err != nil {
			t.Fatal(err)
		}
		if pid == first {
			continue
		}
		if !st.DidResume {
			t.Fatalf("connection on worker %d did not resume the session of worker %d", pid, first)
		}
		return
	}
	t.Fatal("200 connections all landed on one worker")
}

// TestTLSReloadSwapsCertificate replaces the certificate files and reloads
// under load: new connections get the new certificate, and no request
// fails.
func TestTLSReloadSwapsCertificate(t *testing.T) {
	ti := startTLSMaster(t, 2)
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := ti.client.Get("https://" + ti.addr + "/")
				if err != nil {
					failed.Add(1)
					t.Logf("request failed: %v", err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for done.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	// The new pair, written over the old files.
	newDir := t.TempDir()
	cert, key := testcert.Write(t, newDir, testcert.Options{DNSNames: []string{"a.test"}, CommonName: "second", Issuer: ti.ca, IssuerKey: ti.caKey})
	for _, p := range [][2]string{{cert, ti.cert}, {key, ti.key}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1]+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p[1]+".new", p[1]); err != nil {
			t.Fatal(err)
		}
	}
	ti.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, st, err := ti.healthz(nil)
		if err == nil && len(st.PeerCertificates) > 0 && st.PeerCertificates[0].Subject.CommonName == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served after the reload (%v)\n%s", err, ti.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := done.Load()
	for done.Load() < before+20 {
		time.Sleep(10 * time.Millisecond)
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed across the certificate reload", n, done.Load()+n)
	}
}
