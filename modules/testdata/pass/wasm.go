//go:build wasip1

package main

import "github.com/nproxy/nproxy/modules/guest"

func init() { guest.Register(New) }
