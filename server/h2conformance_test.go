//go:build linux

package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// conformanceCorpus is llhttp's request corpus as wire bytes, kept beside
// the repository by the project's developers (and CI); users' clones do
// not have it, so the test is skipped without it.
const conformanceCorpus = "../../shared/conformance/llhttp-requests.json"

// TestH2cListenerHTTP1Conformance sends every case of the corpus over
// HTTP/1.1 to a plain listener offering h2c (http2 = on) and to one that
// does not, on each backend, both proxying every request to a backend
// that reads the body (so that bodies are judged too): the answers must
// be the same bytes (Date aside) and both connections must end the same
// way. The one difference
// allowed is the h2c sniff's: a first line that names no HTTP/ version
// is closed without an answer where the other listener answers 400.
// Each answer is also judged as the corpus says: an invalid case gets
// no 2xx or 3xx past its complete requests, a valid one an answer for
// each complete request.
func TestH2cListenerHTTP1Conformance(t *testing.T) {
	data, err := os.ReadFile(conformanceCorpus)
	if err != nil {
		t.Skipf("conformance corpus not present: %v", err)
	}
	var corpus struct {
		Cases []struct {
			ID       string `json:"id"`
			Category string `json:"category"`
			Raw      string `json:"raw"`
			Messages int    `json:"messages"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &corpus); err != nil {
		t.Fatal(err)
	}
	// Where nproxy means to differ from llhttp's strict mode (see
	// http/conformance_test.go): any token is a method.
	differs := map[string]bool{
		"llhttp/invalid/http-protocol-and-announce-method": true,
		"llhttp/invalid/invalid-method":                    true,
	}
	status := regexp.MustCompile(`(?m)^HTTP/1\.[01] (\d{3}) `)
	date := regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)
	forEachBackend(t, func(t *testing.T, backend string) {
		up := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s %s %d\n", r.Method, r.URL, n)
		}))
		t.Cleanup(func() { up.CloseClientConnections(); up.Close() }) // after the workers' stop
		keys := "proxy_pass = " + strings.TrimPrefix(up.URL, "http://") + "\n"
		h2c := startServer(t, backend, "http2 = on\n"+keys)
		plain := startServer(t, backend, keys)
		for _, c := range corpus.Cases {
			raw, err := base64.StdEncoding.DecodeString(c.Raw)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			got := exchangeRaw(t, h2c.addr, raw)
			want := exchangeRaw(t, plain.addr, raw)
			gotN, wantN := date.ReplaceAllString(got, ""), date.ReplaceAllString(want, "")
			switch {
			case gotN == wantN:
			case got == "" && strings.HasPrefix(want, "HTTP/1.1 400 ") && !strings.Contains(firstLine(raw), " HTTP/"):
				// The h2c sniff's close (neither protocol).
			default:
				t.Errorf("%s: over the h2c listener\n%q\nover the plain one\n%q", c.ID, got, want)
				continue
			}
			if strings.HasSuffix(got, " [open]") {
				t.Logf("%s: still open a second after the client's half-close", c.ID)
			}
			codes := status.FindAllStringSubmatch(got, -1)
			switch c.Category {
			case "llhttp-invalid":
				if differs[c.ID] {
					break
				}
				for i, m := range codes {
					if i >= c.Messages && (m[1][0] == '2' || m[1][0] == '3') {
						t.Errorf("%s: invalid, answered %s (response %d, %d complete requests)", c.ID, m[1], i+1, c.Messages)
					}
				}
			case "llhttp-valid":
				// A refusal is fine (nproxy is stricter than llhttp in
				// places), the sniff's close included.
				refused := len(codes) > 0 && codes[len(codes)-1][1][0] == '4' || got == "" && want != ""
				if len(codes) < c.Messages && !refused {
					t.Errorf("%s: valid, %d answers for %d requests:\n%q", c.ID, len(codes), c.Messages, got)
				}
			}
		}
	})
}

// exchangeRaw sends raw on a new connection, half-closes it, and returns
// everything the server sent until it closed, with " [open]" after it
// when the server still held the connection a second later (a body it
// still waits for).
func exchangeRaw(t *testing.T, addr string, raw []byte) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write(raw)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if isTimeout(err) {
		return string(b) + " [open]"
	}
	return string(b)
}

// firstLine returns raw up to its first LF.
func firstLine(raw []byte) string {
	s, _, _ := strings.Cut(string(raw), "\n")
	return s
}
