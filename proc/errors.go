//go:build linux

package proc

import "errors"

var (
	// ErrRunning is returned by RunMaster when the pid file names a live
	// master: two masters would fight over the same workers' addresses.
	ErrRunning = errors.New("proc: another nproxy master is running")

	// ErrNoPIDFile is returned by SignalMaster when the configuration has
	// no pid_file: without it there is no way to find the master.
	ErrNoPIDFile = errors.New("proc: -s needs pid_file in the configuration")

	// ErrUnsafePIDFile is returned by RunMaster and SignalMaster when
	// the pid file is a symbolic link, not a regular file, or owned by
	// another user than this one or root: a root master must not write
	// through a link planted in a shared directory, nor -s signal a pid
	// another user wrote.
	ErrUnsafePIDFile = errors.New("proc: pid file is a link, not a regular file, or another user's")

	// ErrLogLinked is returned by RunMaster, and logged on a reload or a
	// reopen, when a log file the workers' user (user = NAME) is to get
	// has another name too (a hard link): a root master never gives away
	// a file that may be another one under its other name.
	ErrLogLinked = errors.New("proc: log file has more than one link: not handed over to the workers' user")

	// ErrNotRunning is returned by SignalMaster when the pid file is
	// missing or names a process that is gone.
	ErrNotRunning = errors.New("proc: no nproxy master is running")

	// ErrWorkerStart is returned by RunMaster when a worker of the first
	// generation exits or stays silent before it accepts: the server
	// never runs half started.
	ErrWorkerStart = errors.New("proc: worker failed to start")

	// ErrWorkerSpec is returned by WorkerMain when the environment a
	// master hands its workers is missing or malformed (for example when
	// NPROXY_ROLE=worker is set by hand).
	ErrWorkerSpec = errors.New("proc: bad worker environment")

	// ErrActivation is returned by RunMaster when the service manager
	// passed sockets (LISTEN_FDS) that are not listening TCP sockets.
	ErrActivation = errors.New("proc: socket activation")

	// ErrReloadRefused is returned by SignalMaster for -s reload when the
	// master refused the reload (an invalid configuration, a new worker
	// that did not start): the error's text has the master's lines.
	ErrReloadRefused = errors.New("proc: the master refused the reload and keeps the running configuration")

	// ErrNotifySocket is returned by RunMaster when NOTIFY_SOCKET is set
	// but names no socket the master can send to: the service manager
	// would wait for a READY=1 that never comes.
	ErrNotifySocket = errors.New("proc: bad NOTIFY_SOCKET")

	// ErrTicketKeys is returned by OpenTicketKeys when the descriptor is
	// not a session ticket key region of the size the master makes.
	ErrTicketKeys = errors.New("proc: bad session ticket key region")
)
