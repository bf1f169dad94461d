//go:build linux

package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// conformanceFile is llhttp's request corpus as wire bytes, kept outside the
// repository by the project's developers. Users' clones do not have it, so
// the test is skipped without it; what it taught us lives in parserCases.
const conformanceFile = "../../shared/conformance/llhttp-requests.json"

// conformanceDiffers lists the cases where nproxy deliberately disagrees
// with llhttp's strict mode, and why.
var conformanceDiffers = map[string]string{
	// llhttp knows a fixed list of methods and refuses others. RFC 9110
	// §9.1 makes the method an extensible token, and a reverse proxy must
	// pass WebDAV and private methods to its upstream (nginx does too), so
	// any token parses, as MethodOther.
	"llhttp/invalid/http-protocol-and-announce-method": "any token is a method",
	"llhttp/invalid/invalid-method":                    "any token is a method",
}

// conformanceOutcome is what came of feeding one case through the parser
// and chunked decoder, request after request.
type conformanceOutcome struct {
	complete int   // requests whose head and body were complete
	err      error // refusal, or errDataAfterClose
}

var errDataAfterClose = errors.New("data after a request that closes the connection")

// runConformance parses raw as a connection's bytes: heads with Parser,
// bodies by Content-Length or with ChunkedDecoder. It stops at a refusal,
// at data after a non-persistent request, at an upgrade or CONNECT (the
// rest is not HTTP), or where the bytes run out.
func runConformance(raw []byte) conformanceOutcome {
	var out conformanceOutcome
	var p Parser
	var req Request
	for off := 0; off < len(raw); {
		p.Reset()
		req.Reset()
		done, err := p.Parse(raw[off:], &req)
		if err == ErrMethodNotAllowed {
			// CONNECT: a complete head, understood and answered 405 as
			// nginx does; the corpus asks a valid request for a status
			// other than 400. What follows it is not HTTP.
			out.complete++
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
		if !done {
			return out
		}
		body := off + req.HeadLen
		switch {
		case req.Chunked:
			var d ChunkedDecoder
			in := raw[body:]
			for {
				n, _, fin, err := d.Next(in)
				if err != nil {
					out.err = err
					return out
				}
				in = in[n:]
				if fin {
					break
				}
				if len(in) == 0 {
					return out
				}
			}
			body = len(raw) - len(in)
		case req.ContentLength > 0:
			if int64(len(raw)-body) < req.ContentLength {
				return out
			}
			body += int(req.ContentLength)
		}
		out.complete++
		off = body
		if req.Upgrade {
			return out
		}
		if !req.KeepAlive && off < len(raw) {
			out.err = errDataAfterClose
			return out
		}
	}
	return out
}

func TestConformanceLLHTTP(t *testing.T) {
	data, err := os.ReadFile(conformanceFile)
	if err != nil {
		t.Skipf("conformance corpus not present: %v", err)
	}
	var corpus struct {
		Cases []struct {
			ID       string   `json:"id"`
			Category string   `json:"category"`
			Raw      string   `json:"raw"`
			Text     string   `json:"text"`
			Messages int      `json:"messages"`
			Relaxed  []string `json:"relaxed"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &corpus); err != nil {
		t.Fatal(err)
	}
	agree := 0
	for _, c := range corpus.Cases {
		raw, err := base64.StdEncoding.DecodeString(c.Raw)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		out := runConformance(raw)
		var ok bool
		switch c.Category {
		case "llhttp-valid":
			ok = out.err == nil && out.complete == c.Messages ||
				len(c.Relaxed) > 0 && out.err != nil && out.complete <= c.Messages
		case "llhttp-invalid":
			ok = out.err != nil && out.complete == c.Messages
		}
		if len(c.Relaxed) > 0 && out.err != nil {
			t.Logf("%s: refused a relaxed case: %v", c.ID, out.err)
		}
		if ok {
			agree++
			continue
		}
		if why, known := conformanceDiffers[c.ID]; known {
			t.Logf("%s: differs on purpose (%s)", c.ID, why)
			continue
		}
		t.Errorf("%s (%s, %d messages): got %d complete, err %v\n\t%s",
			c.ID, c.Category, c.Messages, out.complete, out.err, c.Text)
	}
	t.Logf("agreement with llhttp strict mode: %d/%d", agree, len(corpus.Cases))
}
