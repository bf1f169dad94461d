//go:build linux

package server

import (
	"testing"
	"unsafe"
)

// TestConnAllocSize keeps a connection's conn within the allocator's
// 176-byte size class: it is memory per idle keep-alive connection (see
// the conn's comment). State that few connections need goes behind a
// pointer taken when needed (takeover, connAux), not on the conn.
func TestConnAllocSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 176 {
		t.Errorf("conn is %d bytes, want at most 176 (the 176-byte size class): "+
			"move state that idle connections do not need behind a pooled pointer", n)
	}
}
