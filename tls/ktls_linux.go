package tls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's TLS offload ABI (include/uapi/linux/tls.h); x/sys/unix has
// SOL_TLS and TCP_ULP but not these.
const (
	tlsTX              = 1  // setsockopt(SOL_TLS, TLS_TX): transmit keys
	tlsRX              = 2  // setsockopt(SOL_TLS, TLS_RX): receive keys
	tlsCipherAESGCM128 = 51 // TLS_CIPHER_AES_GCM_128
	tlsCipherAESGCM256 = 52 // TLS_CIPHER_AES_GCM_256
)

// cryptoInfo lays k out as struct tls12_crypto_info_aes_gcm_128 or _256:
//
//	struct tls_crypto_info { __u16 version; __u16 cipher_type; };
//	struct tls12_crypto_info_aes_gcm_N {
//		struct tls_crypto_info info;
//		unsigned char iv[8], key[N/8], salt[4], rec_seq[8];
//	};
//
// Every member is a __u16 or a byte array, so there is no padding; the
// two __u16 are in host order, rec_seq is a big-endian counter.
func (k *kernelKeys) cryptoInfo() ([]byte, error) {
	var cipherType uint16
	switch len(k.key) {
	case 16:
		cipherType = tlsCipherAESGCM128
	case 32:
		cipherType = tlsCipherAESGCM256
	default:
		return nil, fmt.Errorf("%w: %d-byte key", ErrKTLSUnsafe, len(k.key))
	}
	b := make([]byte, 4, 4+len(k.iv)+len(k.key)+len(k.salt)+8)
	binary.NativeEndian.PutUint16(b[0:], k.version)
	binary.NativeEndian.PutUint16(b[2:], cipherType)
	b = append(b, k.iv[:]...)
	b = append(b, k.key...)
	b = append(b, k.salt[:]...)
	b = binary.BigEndian.AppendUint64(b, k.seq)
	return b, nil
}

// EnableKTLS hands the records of an established server connection to the
// kernel: setsockopt(SOL_TCP, TCP_ULP, "tls"), then SOL_TLS TLS_TX and
// TLS_RX with the keys and the next sequence numbers. On success the
// socket itself reads and writes plaintext (sendfile and splice work
// again), t's Read and Write return ErrKernelRecords, and t has dropped
// its crypto/tls state and buffers; State still reports the connection.
//
// Call it right after Handshake reports done and Output has been sent,
// before any Read or Write, on a Context with SetKTLS(true). It refuses —
// and the connection goes on in userspace — when the kernel has no TLS
// offload (ErrKTLSUnavailable), or when the sequence numbers cannot be
// known exactly (ErrKTLSUnsafe): a client connection, ChaCha20-Poly1305,
// records already read or written, or ciphertext received beyond the
// handshake (a client that sent its request together with its Finished).
// ErrKTLSHalf means the kernel took the transmit keys and refused the
// receive keys: close the connection.
//
// After a successful hand-over the reader must use recvmsg and treat a
// record whose TLS_GET_RECORD_TYPE control message is not application
// data as the end of the connection: a close_notify alert, or a TLS 1.3
// KeyUpdate, which this package does not hand to the kernel.
func EnableKTLS(fd int, t *Conn) error {
	if ok, why := KTLSAvailable(); !ok {
		return fmt.Errorf("%w: %s", ErrKTLSUnavailable, why)
	}
	tx, rx, err := t.kernelKeys()
	if err != nil {
		return err
	}
	defer clear(tx.key)
	defer clear(rx.key)
	txInfo, err := tx.cryptoInfo()
	if err != nil {
		return err
	}
	rxInfo, err := rx.cryptoInfo()
	if err != nil {
		return err
	}
	defer clear(txInfo)
	defer clear(rxInfo)
	if err := unix.SetsockoptString(fd, unix.SOL_TCP, unix.TCP_ULP, "tls"); err != nil {
		return fmt.Errorf("%w: %w", ErrKTLSUnavailable, os.NewSyscallError("setsockopt TCP_ULP", err))
	}
	// With the ULP installed and no keys set, the socket still passes
	// bytes through unchanged, so a refusal here leaves it usable.
	if err := unix.SetsockoptString(fd, unix.SOL_TLS, tlsTX, string(txInfo)); err != nil {
		return fmt.Errorf("%w: %w", ErrKTLSUnavailable, os.NewSyscallError("setsockopt TLS_TX", err))
	}
	if err := unix.SetsockoptString(fd, unix.SOL_TLS, tlsRX, string(rxInfo)); err != nil {
		return fmt.Errorf("%w: %w", ErrKTLSHalf, os.NewSyscallError("setsockopt TLS_RX", err))
	}
	t.enterKernel()
	return nil
}

// enterKernel drops the userspace record state after a hand-over.
func (t *Conn) enterKernel() {
	cs := t.tc.ConnectionState()
	t.kernelState = &cs
	t.state = stateKernel
	t.tc = nil
	t.p.shutdown()
}

var ktlsProbe struct {
	once sync.Once
	ok   bool
	why  string
}

// KTLSAvailable reports whether the kernel accepts the TLS upper-layer
// protocol on a TCP socket, and a sentence saying why not (or what runs),
// for the log at start and nproxy -V. The probe runs once per process on
// a loopback connection of its own: the tls ULP only attaches to an
// established socket.
func KTLSAvailable() (bool, string) {
	ktlsProbe.once.Do(func() {
		ktlsProbe.ok, ktlsProbe.why = probeKTLS()
	})
	return ktlsProbe.ok, ktlsProbe.why
}

func probeKTLS() (bool, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, "kernel TLS not probed: " + err.Error()
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return false, "kernel TLS not probed: " + err.Error()
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false, "kernel TLS not probed: " + err.Error()
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.SOL_TCP, unix.TCP_ULP, "tls")
	}); err != nil {
		return false, "kernel TLS not probed: " + err.Error()
	}
	switch {
	case serr == nil:
		return true, "kernel TLS offload available (tls ULP): TLS 1.2 and 1.3 AES-GCM records in the kernel"
	case errors.Is(serr, syscall.ENOENT):
		return false, "kernel TLS unavailable: setsockopt TCP_ULP \"tls\": no such ULP (kernel without CONFIG_TLS, or the tls module cannot be loaded); records stay in userspace"
	default:
		return false, "kernel TLS unavailable: " + os.NewSyscallError("setsockopt TCP_ULP", serr).Error() + "; records stay in userspace"
	}
}
