// Package syslog sends log lines to a syslog server, as nginx does for
// "access_log syslog:..." and "error_log syslog:...": one datagram per
// line, over UDP or a UNIX datagram socket, in the form of RFC 3164
// that nginx sends,
//
//	<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MESSAGE
//
// where PRI is facility*8+severity and the time is local. A Target is
// the parsed "syslog:server=ADDR[,facility=F][,severity=S][,tag=T][,nohostname]"
// of the configuration; a Writer is one process's socket to it.
//
// A Writer never blocks: its socket is non-blocking, and a line the
// kernel does not take at once (a full socket buffer, no server
// listening) is dropped and counted (Writer.Dropped), as nginx drops it.
// Send sends a line at once (the error log); Queue keeps a UDP line for
// the next Flush, which sends the batch with one sendmmsg(2) (the access
// log, once per turn of a worker's event loop: batch_linux.go).
package syslog
