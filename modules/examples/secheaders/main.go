// Command secheaders is an nproxy module that adds security headers to
// every response the server sends itself. Its arguments are NAME=VALUE
// pairs; without any it adds
//
//	X-Content-Type-Options: nosniff
//	X-Frame-Options: DENY
//	Referrer-Policy: no-referrer
//
// A header the response already has is replaced.
package main

import (
	"fmt"
	"strings"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

var defaults = []string{
	"X-Content-Type-Options=nosniff",
	"X-Frame-Options=DENY",
	"Referrer-Policy=no-referrer",
}

type header struct{ name, value string }

type secHeaders struct{ headers []header }

// New returns the module for one `module = secheaders.so [NAME=VALUE...]`
// line.
func New(args []string) (any, error) {
	if len(args) == 0 {
		args = defaults
	}
	m := &secHeaders{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME=VALUE", a)
		}
		m.headers = append(m.headers, header{name, value})
	}
	return m, nil
}

// OnResponse sets the headers.
func (m *secHeaders) OnResponse(r hook.Response) error {
	h := r.Headers()
	for _, hd := range m.headers {
		if err := h.Set(hd.name, hd.value); err != nil {
			return fmt.Errorf("%s: %w", hd.name, err)
		}
	}
	return nil
}

func main() {}
