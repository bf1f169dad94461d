//go:build !linux

// nproxy runs on Linux only: its reactor is built on epoll and io_uring,
// its worker processes on Linux process semantics. Building it elsewhere
// stops here with this identifier in the error message.
package main

var _ = nproxy_builds_on_linux_only
