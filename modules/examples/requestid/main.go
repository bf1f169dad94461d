// Command requestid is an nproxy module that gives every request an ID:
// the client's X-Request-ID when it sent one, else 16 random bytes in
// hex. The ID is sent upstream with the request and echoed in the
// response. The header's name is the optional argument:
//
//	module = requestid.so X-Correlation-ID
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type requestID struct {
	header string
	id     [32]byte // hex scratch
}

// New returns the module for one line.
func New(args []string) (any, error) {
	m := &requestID{header: "X-Request-ID"}
	switch len(args) {
	case 0:
	case 1:
		m.header = args[0]
	default:
		return nil, errors.New("at most one argument: the header's name")
	}
	return m, nil
}

// OnRequest adds an ID to a request without one.
func (m *requestID) OnRequest(r hook.Request) error {
	h := r.Headers()
	if _, ok := h.Get(m.header); ok {
		return nil
	}
	var raw [16]byte
	rand.Read(raw[:])
	hex.Encode(m.id[:], raw[:])
	return h.Set(m.header, string(m.id[:]))
}

// OnResponse echoes the request's ID.
func (m *requestID) OnResponse(r hook.Response) error {
	id, ok := r.Request().Headers().Get(m.header)
	if !ok {
		return nil
	}
	return r.Headers().Set(m.header, string(id))
}

func main() {}
