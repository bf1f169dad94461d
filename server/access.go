//go:build linux

package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/htpasswd"
	"github.com/nproxy/nproxy/http"
)

// Access control of a route: allow/deny by the client's address (403),
// then HTTP basic authentication against an htpasswd file (401).

// clientAddr returns the address access rules, the rate limit and the
// logs know the client by.
func clientAddr(x *http.Exchange) netip.Addr {
	if c, ok := x.Takeover.(*conn); ok {
		return c.peerAddr()
	}
	return netip.Addr{}
}

// allowed reports whether rules let addr in: the first rule that covers
// it decides; none covering it lets it in, as nginx.
func allowed(rules []config.AccessRule, addr netip.Addr) bool {
	for i := range rules {
		if rules[i].Matches(addr) {
			return rules[i].Allow
		}
	}
	return true
}

// basicAuth asks for HTTP basic authentication.
type basicAuth struct {
	users     *htpasswd.File
	challenge []byte // the WWW-Authenticate value
	scratch   []byte // decoded credentials
}

// newBasicAuth prepares cfg's auth_basic; files are read once per server
// and shared by the routes that name them.
func (s *Server) newBasicAuth(cfg *config.Server) (*basicAuth, error) {
	f := s.userFiles[cfg.AuthUserFile]
	if f == nil {
		var err error
		if f, err = htpasswd.Load(cfg.AuthUserFile); err != nil {
			return nil, fmt.Errorf("server: auth_basic_user_file: %w", err)
		}
		if s.userFiles == nil {
			s.userFiles = map[string]*htpasswd.File{}
		}
		s.userFiles[cfg.AuthUserFile] = f
	}
	return &basicAuth{users: f, challenge: []byte(`Basic realm="` + cfg.AuthBasic + `", charset="UTF-8"`), scratch: make([]byte, 0, 256)}, nil
}

// maxCredentials bounds the Authorization value decoded: a user name and
// password longer than that are refused without decoding.
const maxCredentials = 4 << 10

// Serve answers 401 unless x carries a user and password of the file.
func (a *basicAuth) Serve(x *http.Exchange) bool {
	if v, ok := x.Req.Header(x.Buf, "Authorization"); ok && a.check(v) {
		return false
	}
	x.Resp.Error(401)
	x.Resp.AddHeader("WWW-Authenticate", a.challenge)
	return true
}

// check decodes "Basic base64(user:password)" and checks it.
func (a *basicAuth) check(v []byte) bool {
	scheme, cred, ok := bytes.Cut(bytes.TrimSpace(v), []byte{' '})
	if !ok || !http.EqualFold(scheme, "basic") {
		return false
	}
	cred = bytes.TrimSpace(cred)
	n := base64.StdEncoding.DecodedLen(len(cred))
	if n > maxCredentials {
		return false
	}
	if cap(a.scratch) < n {
		a.scratch = make([]byte, 0, n)
	}
	buf := a.scratch[:n]
	n, err := base64.StdEncoding.Decode(buf, cred)
	if err != nil {
		return false
	}
	user, pass, ok := bytes.Cut(buf[:n], []byte{':'})
	return ok && a.users.Check(user, pass)
}
