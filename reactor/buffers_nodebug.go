//go:build linux && !nproxydebug

package reactor

// bufDebug is the buffer pool's ownership checker. This is the release
// build: it is empty and its methods do nothing, so they inline away and
// GetBuf and PutBuf cost what they cost without checks (TestInlining keeps
// them inlinable). The nproxydebug build fills it in (buffers_debug.go).
type bufDebug struct{}

func (*bufDebug) handedOut([]byte)          {}
func (*bufDebug) freed([]byte)              {}
func (*bufDebug) taken([]byte)              {}
func (*bufDebug) returned(*bufPool, []byte) {}
func (*bufDebug) lend(*Conn, []byte)        {}
func (*bufDebug) endLoan(*Conn)             {}
