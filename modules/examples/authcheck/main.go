// Command authcheck is an nproxy module that lets a request through only
// with a known API key in a header:
//
//	module = authcheck.wasm header=X-Api-Key key=s3cret key=0ther
//
// A request without the header is answered 401, one with a key not
// listed 403; the header is removed from a request let through, so the
// key never reaches the upstream.
package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type authCheck struct {
	header string
	keys   map[string]bool
}

// New returns the module for one line; header= defaults to X-Api-Key,
// and at least one key= is needed.
func New(args []string) (any, error) {
	m := &authCheck{header: "X-Api-Key", keys: map[string]bool{}}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "header":
			m.header = v
		case "key":
			m.keys[v] = true
		default:
			return nil, fmt.Errorf("%q: want header=NAME or key=VALUE", a)
		}
	}
	if len(m.keys) == 0 {
		return nil, errors.New("no key=VALUE argument: every request would be refused")
	}
	return m, nil
}

// OnRequest answers 401 or 403, or removes the key and passes.
func (m *authCheck) OnRequest(r hook.Request) error {
	h := r.Headers()
	key, ok := h.Get(m.header)
	if !ok {
		return deny(r, 401, "missing "+m.header+"\n")
	}
	if !m.keys[string(key)] {
		return deny(r, 403, "unknown key\n")
	}
	return h.Del(m.header)
}

func deny(r hook.Request, status int, body string) error {
	h, err := r.Respond(status, []byte(body))
	if err != nil {
		return err
	}
	return h.Set("Content-Type", "text/plain; charset=utf-8")
}

func main() {}
