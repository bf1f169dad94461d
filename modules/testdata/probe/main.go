// Command probe is the test modules' module: its ARGS say what it does to
// every request and response, and a request's X-Probe header makes it
// misbehave. It builds as a native and as a WebAssembly module.
//
//	reqset=NAME:VALUE   set a request header (sent upstream)
//	reqdel=NAME         remove a request header
//	path=/P             replace the path
//	answer=CODE:BODY    answer every request
//	respadd=NAME:VALUE  add a response header
//	status=CODE         replace the response status
//	requestonly         have a request hook only (and do nothing)
//
// X-Probe: echo answers 200 with what the module sees; trap panics; loop
// never returns; hog allocates until memory runs out; fail returns an
// error.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type action struct{ kind, name, value string }

type probe struct{ actions []action }

type requestOnly struct{}

func (requestOnly) OnRequest(hook.Request) error { return nil }

// New parses the actions.
func New(args []string) (any, error) {
	p := &probe{}
	for _, a := range args {
		if a == "requestonly" {
			return requestOnly{}, nil
		}
		kind, rest, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want ACTION=VALUE", a)
		}
		name, value, _ := strings.Cut(rest, ":")
		switch kind {
		case "reqset", "reqdel", "path", "answer", "respadd", "status":
		default:
			return nil, fmt.Errorf("%q: unknown action", kind)
		}
		p.actions = append(p.actions, action{kind, name, value})
	}
	return p, nil
}

var hog [][]byte

// OnRequest misbehaves when asked, then applies the request actions.
func (p *probe) OnRequest(r hook.Request) error {
	h := r.Headers()
	mode, _ := h.Get("X-Probe")
	switch string(mode) {
	case "echo":
		return echo(r)
	case "trap":
		panic("probe: asked to trap")
	case "loop":
		for n := 0; ; n++ {
			hog = hog[:0]
		}
	case "hog":
		for {
			hog = append(hog, make([]byte, 1<<20))
		}
	case "fail":
		return errors.New("asked to fail")
	}
	for _, a := range p.actions {
		var err error
		switch a.kind {
		case "reqset":
			err = h.Set(a.name, a.value)
		case "reqdel":
			err = h.Del(a.name)
		case "path":
			err = r.SetPath(a.name)
		case "answer":
			code, _ := strconv.Atoi(a.name)
			var rh hook.Headers
			if rh, err = r.Respond(code, []byte(a.value)); err == nil {
				err = rh.Set("Content-Type", "text/plain")
			}
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", a.kind, a.name, err)
		}
	}
	return nil
}

// OnResponse applies the response actions.
func (p *probe) OnResponse(r hook.Response) error {
	for _, a := range p.actions {
		var err error
		switch a.kind {
		case "respadd":
			err = r.Headers().Add(a.name, a.value)
		case "status":
			code, _ := strconv.Atoi(a.name)
			err = r.SetStatus(code)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", a.kind, a.name, err)
		}
	}
	return nil
}

// echo answers with what the request hook sees, one "key: value" line
// each, and checks that nproxy refuses what it must.
func echo(r hook.Request) error {
	var b strings.Builder
	fmt.Fprintf(&b, "method: %s\npath: %s\nquery: %s\nhost: %s\nclient: %s\n", r.Method(), r.Path(), r.Query(), r.Host(), r.ClientAddr())
	h := r.Headers()
	for i := 0; i < h.Len(); i++ {
		name, value := h.At(i)
		fmt.Fprintf(&b, "header: %s=%s\n", name, value)
	}
	fmt.Fprintf(&b, "set content-length: %v\n", h.Set("Content-Length", "1"))
	fmt.Fprintf(&b, "set bad name: %v\n", h.Set("Bad Name", "1"))
	fmt.Fprintf(&b, "set bad value: %v\n", h.Set("X-Bad", "a\r\nb"))
	fmt.Fprintf(&b, "path ..: %v\n", r.SetPath("/a/../b"))
	rh, err := r.Respond(200, []byte(b.String()))
	if err != nil {
		return err
	}
	_, err = r.Respond(200, nil)
	return errors.Join(rh.Set("X-Second-Respond", fmt.Sprint(err)), rh.Set("Content-Type", "text/plain"))
}

func main() {}
