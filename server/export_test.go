//go:build linux

package server_test

import "golang.org/x/sys/unix"

func unixClose(fd int) { unix.Close(fd) }
