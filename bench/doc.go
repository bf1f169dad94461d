//go:build linux

// Package bench is nproxy's built-in benchmark and load generator, run as
// `nproxy bench`.
//
// # Load generator
//
// Run drives HTTP/1.1 load at one address: keep-alive over N connections
// for a duration or an exact request count, optional pipelining, a new
// connection per request (churn), and either a closed loop (each answer
// triggers the next request) or an open loop at a fixed rate, where
// requests are scheduled at fixed intervals and latency counts from the
// scheduled send, so that a server that stalls is charged for every request
// it delayed (coordinated omission, as wrk2 corrects it).
//
// It does not use the Go netpoller: each listed client CPU gets one epoll
// loop on a locked OS thread pinned to that CPU, with the request bytes
// precomputed (Pipeline copies back to back, so any partial write resumes at
// a known offset) and one 64 KiB read buffer per loop. Connections need no
// buffer of their own because the response parser is a resumable state
// machine: it reads the status line and Content-Length, chunked or
// close-delimited framing from whatever a read returned, skips body bytes
// by count, and keeps a few dozen bytes of state per connection; it never
// allocates. Every answer is validated (2xx status, expected body length);
// a failure is counted by cause in Errors. Latencies go into a Histogram:
// HdrHistogram-style log-linear buckets (1/128 relative precision, fixed
// 57 KiB), one per loop, merged at the end.
//
// # TLS
//
// With Load.TLS every connection is a client of nproxy's own TLS engine
// (package tls), driven by the loop as the server drives it: ciphertext
// read from the socket is fed to the connection's tls.Conn, the records
// it makes are written out (a per-connection buffer holds what the socket
// did not take: records cannot be rebuilt from the request ring), and the
// plaintext goes to the same response parser. crypto/tls's handshake
// cannot stop at a would-block, so the engine runs it in a goroutine
// (bounded per process); its wake function posts the connection to the
// loop through a queue and an eventfd, the only thing it does from another
// thread. Requests follow the handshake, so closed-loop latency counts
// from the send after it, as wrk counts. A run without Resume gives each
// connection a fresh client configuration, hence an empty session cache
// and a full handshake; with Resume one configuration and its session
// cache serve the whole run, and every connection after the first few
// resumes with a session ticket. Result counts handshakes by kind and
// names what the first negotiated (version, suite, group). Because the
// handshake goroutines run wherever the runtime puts them, Run pins every
// thread of the process to the client CPUs while a TLS run lasts (and
// gives each its mask back after), counts the whole process's CPU time as
// the client's, and yields the loop's P once per turn in which a
// handshake got work, so that with one client CPU the goroutine does not
// wait for sysmon to take the P from a loop blocked in epoll_wait.
//
// # Scenarios
//
// Main runs scenarios against servers it starts itself: static-small (a
// 1 KiB file, 64 connections), static-large (1 MiB, 16 connections, bytes/s
// reported), proxy (nproxy in front of an in-process epoll fixed-response
// backend pinned to a client CPU), idle (N keep-alive connections, each
// after one request; the server's process-tree VmRSS per connection, before
// vs after) and churn (Connection: close, a new connection per request).
//
// The TLS scenarios run the same shapes over TLS 1.3: tls-small (1 KiB,
// keep-alive), tls-handshake-ecdsa and tls-handshake-rsa (a new connection
// and a full handshake per request, with an ECDSA P-256 or an RSA-2048
// certificate), tls-resume (a new connection per request, each resuming
// an earlier session), tls-large (1 MiB) and tls-idle. The servers get a
// throwaway self-signed certificate made at run time with crypto/x509
// (cert.go; --tls-key picks its key where the scenario does not): nproxy
// as tls_cert/tls_key with tls_protocols = TLSv1.3 in its [server], nginx
// as ssl_certificate with ssl_protocols TLSv1.3 and a shared session
// cache, as compare.sh sets them up. The readiness check verifies the
// certificate; the load does not verify the chain (as wrk), but the
// handshake still checks the server's signature.
//
// Every load run also measures the server's CPU time per request: user and
// system time of the server's process tree (/proc/PID/stat, 10 ms ticks)
// over the run, divided by the answers. It is the figure that survives a
// busy machine, and the one the TLS targets are stated in.
//
// For each run the server is started afresh from a generated config, pinned
// to the server CPUs from birth (the forking thread carries the mask, as
// taskset does), waited for by polling its port, checked with one request,
// loaded, and stopped (SIGINT; SIGTERM when profiling). --ab alternates two
// nproxy backends run after run (A B A B ...) and reports the B/A ratio of
// every round, their median, minimum and maximum; --against adds nginx and
// HAProxy with configs equivalent to the shell rig's (compare.sh) in the
// same alternation, and reports a reference that is not installed as
// skipped.
//
// # Profiles
//
// With --profile DIR each nproxy run gets NPROXY_PROFILE_DIR=DIR/SCENARIO/
// TARGET/round-N in its environment; every worker writes cpu-<pid>.pprof
// (its lifetime's CPU profile) and heap-<pid>.pprof (the allocs profile)
// when it exits on SIGTERM. bench merges them per scenario and target with
// github.com/google/pprof/profile, writes the merged files to DIR and
// prints the top functions by flat and cumulative CPU time and allocated
// bytes.
//
// # Output
//
// A progress line per run on stderr, then a table: per scenario and target
// the median req/s, p99, MB/s (of HTTP bytes, plaintext over TLS), server
// CPU per request, bytes per idle connection and errors, and the ratios of
// req/s (or bytes per idle connection) and of server CPU per request. --json prints the machine (CPU model, cores, kernel, Go
// version, date), the command line, every run and the summary on stdout.
// Main's exit code is 0 only when every server started and stopped cleanly
// and every answer was valid.
package bench
