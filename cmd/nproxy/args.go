//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nproxy/nproxy/config"
)

// usageHead is the start of the help: the invocations a newcomer needs
// first, then the rest.
const usageHead = `usage:
  nproxy                        serve the current directory on http://127.0.0.1:8080 (Ctrl-C stops it)
  nproxy PATH                   serve PATH instead
  nproxy --port 9000 [PATH]     on another port; --listen 0.0.0.0:8080 for every address
  nproxy -c FILE                run with a configuration file (nproxy -t -c FILE checks it)
  nproxy -T [-c FILE]           print the effective configuration, every default written out
  nproxy -s stop|quit|reload|reopen [-c FILE]   signal the running master (needs pid_file)
  nproxy bench [flags]          the built-in benchmark (nproxy bench -h)

Without -c, nproxy runs its embedded configuration (config/default.ini):
directories without index.html are listed, and dot files (.git/, .env)
answer 404. PATH, --listen and --port change only that configuration.

flags:
`

// usage prints the help to w.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseInterleaved parses args with fs, allowing operands among the flags
// ("nproxy PATH --port 9000" as well as "nproxy --port 9000 PATH"), and
// returns the operands. Everything after "--" is an operand.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// defaultOptions checks PATH, --listen and --port and turns them into the
// embedded configuration's options; it prints the reason and reports
// false when they are wrong.
func defaultOptions(paths []string, listen string, port int, confFile string, stderr io.Writer) (config.DefaultOptions, bool) {
	var o config.DefaultOptions
	if confFile != "" {
		for _, set := range []struct {
			set  bool
			what string
		}{{len(paths) > 0, fmt.Sprintf("PATH %q", strings.Join(paths, " "))}, {listen != "", "--listen"}, {port != 0, "--port"}} {
			if set.set {
				fmt.Fprintf(stderr, "nproxy: %s: only without -c (a configuration file sets static_root and listen itself)\n", set.what)
				return o, false
			}
		}
		return o, true
	}
	if len(paths) == 1 {
		root, err := servedDir(paths[0])
		if err != nil {
			fmt.Fprintf(stderr, "nproxy: %v\n", err)
			return o, false
		}
		o.Root = root
	}
	if port < 0 || port > 65535 {
		fmt.Fprintf(stderr, "nproxy: --port %d: want 1..65535\n", port)
		return o, false
	}
	v, err := listenValue(listen, port)
	if err != nil {
		fmt.Fprintf(stderr, "nproxy: %v\n", err)
		return o, false
	}
	o.Listen = v
	return o, true
}

// servedDir checks that p is a directory and returns its absolute path.
func servedDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("PATH %q: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("PATH %q: %w", p, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("PATH %q: not a directory (nproxy serves a directory)", p)
	}
	return abs, nil
}

// defaultPort is the embedded configuration's port.
const defaultPort = 8080

// listenValue makes the embedded configuration's listen value from
// --listen and --port: --port alone is 127.0.0.1:PORT; an address of
// --listen without a port gets --port, or 8080; a bare number is a port
// on every address, as nginx's listen reads it. "" keeps the default.
func listenValue(listen string, port int) (string, error) {
	if listen == "" {
		if port == 0 {
			return "", nil
		}
		return "127.0.0.1:" + strconv.Itoa(port), nil
	}
	p := port
	if p == 0 {
		p = defaultPort
	}
	items := strings.Split(listen, ",")
	for i, it := range items {
		it = strings.TrimSpace(it)
		if hasPort(it) {
			if port != 0 {
				return "", fmt.Errorf("--port %d and --listen %q: that address has its port; give one or the other", port, it)
			}
		} else if it != "" {
			it += ":" + strconv.Itoa(p)
		}
		items[i] = it
	}
	return strings.Join(items, ", "), nil
}

// hasPort reports whether a listen address names its port: a bare
// number (a port), "host:port" or "[v6]:port".
func hasPort(addr string) bool {
	if addr != "" && strings.Trim(addr, "0123456789") == "" {
		return true
	}
	if strings.HasPrefix(addr, "[") {
		return strings.Contains(addr, "]:")
	}
	return strings.Count(addr, ":") == 1
}
