//go:build linux

package proxy_test

import (
	"golang.org/x/sys/unix"
)

func listenBacklog(fd, n int) { unix.Listen(fd, n) }
