//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeServerEnv makes the test binary act as a stand-in for nproxy: it reads
// the generated config (listen, static_root, proxy_pass, tls_cert and
// tls_key), serves it with net/http, and honours the profile contract. The scenario machinery is
// tested against it, independently of the real server.
const fakeServerEnv = "NPROXY_BENCH_FAKE_SERVER"

// fakeNoProfileEnv makes the fake server ignore the profile contract.
const fakeNoProfileEnv = "NPROXY_BENCH_FAKE_NO_PROFILE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServerEnv) == "1" {
		os.Exit(fakeNproxy(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeNproxy(args []string) int {
	var conf string
	for i, a := range args {
		if a == "-c" && i+1 < len(args) {
			conf = args[i+1]
		}
	}
	f, err := os.Open(conf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake nproxy:", err)
		return 1
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	f.Close()
	var h http.Handler
	if be := keys["proxy_pass"]; be != "" {
		h = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: be})
	} else {
		root := keys["static_root"]
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Not http.FileServer or ServeFile: they redirect /index.html to /.
			f, err := os.Open(filepath.Join(root, filepath.Clean("/"+r.URL.Path)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			defer f.Close()
			http.ServeContent(w, r, "", time.Time{}, f)
		})
	}
	if dir := os.Getenv(profileEnv); dir != "" && os.Getenv(fakeNoProfileEnv) == "" {
		cpu, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())))
		if err != nil {
			return 1
		}
		pprof.StartCPUProfile(cpu)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			cpu.Close()
			heap, _ := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", os.Getpid())))
			pprof.Lookup("allocs").WriteTo(heap, 0)
			heap.Close()
			os.Exit(0)
		}()
	}
	if cert := keys["tls_cert"]; cert != "" {
		fmt.Fprintln(os.Stderr, http.ListenAndServeTLS(keys["listen"], cert, keys["tls_key"], h))
		return 1
	}
	fmt.Fprintln(os.Stderr, http.ListenAndServe(keys["listen"], h))
	return 1
}
