// Command probe is the test modules' module: its ARGS say what it does to
// every request and response, and a request's X-Probe header makes it
// misbehave. It builds as a native and as a WebAssembly module.
//
//	reqset=NAME:VALUE   set a request header (sent upstream)
//	reqdel=NAME         remove a request header
//	path=/P             replace the path
//	answer=CODE:BODY    answer every request
//	respadd=NAME:VALUE  add a response header
//	respset=NAME:VALUE  set a response header
//	respdel=NAME        remove a response header
//	status=CODE         replace the response status
//	requestonly         have a request hook only (and do nothing)
//
// X-Probe: echo answers 200 with what the module sees; trap panics; loop
// never returns; hog allocates until memory runs out; fail returns an
// error; lastlog answers 200 with what the log hook saw of the exchanges
// before, one line each: "METHOD PATH STATUS BYTES CLIENT X-Probe-Log",
// then forgets them.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type action struct{ kind, name, value string }

type probe struct {
	actions []action
	logged  []string // what OnLog saw, for X-Probe: lastlog
}

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
		case "reqset", "reqdel", "path", "answer", "respadd", "respset", "respdel", "status":
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
	case "lastlog":
		body := strings.Join(p.logged, "\n")
		p.logged = p.logged[:0]
		rh, err := r.Respond(200, []byte(body))
		if err != nil {
			return err
		}
		return rh.Set("Content-Type", "text/plain")
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

// OnResponse applies the response actions; a request's X-Probe:
// respfail makes it fail.
func (p *probe) OnResponse(r hook.Response) error {
	if mode, _ := r.Request().Headers().Get("X-Probe"); string(mode) == "respfail" {
		return errors.New("asked to fail the response")
	}
	for _, a := range p.actions {
		var err error
		switch a.kind {
		case "respadd":
			err = r.Headers().Add(a.name, a.value)
		case "respset":
			err = r.Headers().Set(a.name, a.value)
		case "respdel":
			err = r.Headers().Del(a.name)
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

// OnLog keeps what it sees of the exchange, the last 100 lines: the
// duration only as whether it is sane (not negative, under a minute).
func (p *probe) OnLog(l hook.Log) error {
	r := l.Request()
	mark, _ := r.Headers().Get("X-Probe-Log")
	if len(p.logged) == 100 {
		p.logged = append(p.logged[:0], p.logged[1:]...)
	}
	if d := l.Duration(); d < 0 || d > time.Minute {
		return fmt.Errorf("duration %v", d)
	}
	p.logged = append(p.logged, fmt.Sprintf("%s %s %d %d %s %s", r.Method(), r.Path(), l.Status(), l.BodyBytes(), r.ClientAddr(), mark))
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
