// Package proc runs nproxy as processes: a master that supervises and N
// worker processes that serve, nginx's architecture.
//
// # Workers
//
// Go cannot fork without exec, so the master re-executes its own binary
// (/proc/self/exe: the very binary the master runs) once per worker, with
// NPROXY_ROLE=worker and a JSON spec in NPROXY_WORKER. The worker inherits
// its descriptors through exec.Cmd.ExtraFiles:
//
//	fd 3  a sealed memfd holding the configuration bytes the master
//	      validated (the worker parses exactly those, never re-reads the
//	      file, so an edit after a start cannot reach a worker unvalidated;
//	      for the embedded default the worker loads the default)
//	fd 4  the write end of a readiness pipe: one byte once it accepts
//	fd 5… one listening socket per address
//	then  the shared metrics table, then the TLS session ticket key
//	      region, each when the master has one (the spec names their
//	      descriptors)
//
// Sockets: the master opens one SO_REUSEPORT socket per worker slot per
// address, and worker i inherits the sockets of slot i only. The kernel
// hashes each new connection to one socket of the group, so connections
// spread evenly over the workers without a shared accept queue or a
// thundering herd (one shared socket per address would leave the balance
// to whichever worker wakes first). The master keeps its copies open and
// never accepts, with two consequences: a worker that dies loses no
// queued connection (they wait in its socket for the respawned worker of
// the same slot), and a reload hands slot i's sockets to the new worker i,
// which accepts what the old one leaves. Closing a SO_REUSEPORT socket
// resets the connections queued on it, so the sockets of an address stay
// open as long as the address is served: a reload that drops slots hands
// their sockets to the remaining workers as extra listeners, and a
// steering program on the group sends new connections to the current
// slots' sockets only (listeners.go). Sockets close only for an address a
// reload removes and at exit, after the workers took what was queued.
//
// Each worker runs one reactor loop (Worker) on one locked OS thread,
// pinned by the master to CPU i mod the CPUs it may use (the spawning
// thread sets its own affinity before the fork; the child inherits it
// for all its threads), with GOMAXPROCS=1 unless the environment sets it:
// see workermain.go for the measurements.
//
// # Supervision
//
// One goroutine per child waits for it (cmd.Wait). The master loop, the
// only goroutine touching master state, handles those exits, readiness
// bytes, respawn timers and signals. A worker that dies unexpectedly is
// logged with its exit status or signal and respawned after a backoff
// (100 ms doubling to 5 s; reset once a worker lived 10 s). Workers are
// forked from one locked thread with PR_SET_PDEATHSIG=SIGINT, because the
// kernel sends that signal when the forking thread exits; they also poll
// getppid, so no worker outlives its master.
//
// # TLS session tickets
//
// The master makes the session ticket keys, not each worker, so that a
// client resuming a session on another worker (SO_REUSEPORT spreads its
// connections) resumes: one shared page, written by the master under a
// seqlock and mapped read-only by every worker, holds the current,
// previous and next keys. The master rotates them every hour; each worker
// checks the page once a second on its loop and hands changed keys to its
// server. The page outlives reloads, so sessions survive a SIGHUP; a new
// master makes new keys. See tickets.go for the layout.
//
// # Service manager
//
// With NOTIFY_SOCKET set (systemd's Type=notify), the master reports its
// state through it (notify.go): READY=1 once every worker of the first
// generation accepts, RELOADING=1 and READY=1 around each reload whether
// it is promoted or refused, STOPPING=1 at shutdown, with a STATUS= line
// each. contrib/systemd/nproxy.service is such a unit.
//
// # Signals
//
//	SIGHUP   reload: re-read and validate the same file with the same
//	         overrides; invalid: log FILE:LINE lines and keep serving;
//	         valid: log its warnings, start a new generation of workers,
//	         wait until each accepts, then SIGTERM the old ones
//	SIGTERM  graceful stop: workers stop accepting, finish in-flight
//	         requests (a keep-alive connection ends with a Connection:
//	         close response, or after drain_idle_grace idle) and exit;
//	         worker_shutdown_timeout bounds it (server.Drain)
//	SIGINT   immediate stop
//	SIGUSR1  reopen log files, in the master and every worker
//
// The master catches these four before anything else, pid file and
// workers included, so a signal sent the moment the pid file appears is
// handled, not fatal. It writes pid_file at start and holds an flock on
// it while it runs; `nproxy -s stop|quit|reload|reopen` signals the pid
// it names. A master running the embedded default keeps a pid file named
// after its addresses (implicitPIDFile). `-s reload` then waits for the
// verdict the master writes beside the pid file (verdict.go).
//
// # Privileges
//
// With user = NAME, a root master starts its workers as NAME (user.go)
// and stays root itself, to bind and read files on reload. Sockets the
// service manager passed (LISTEN_FDS, activation.go) are adopted as the
// sockets of their listen addresses and shared by every worker, so a
// unit can serve port 443 with no privilege.
package proc
