//go:build linux

package reactor_test

import "golang.org/x/sys/unix"

func syscallClose(fd int) { unix.Close(fd) }
