//go:build linux && !amd64 && !arm64

package ring

// The ring package relies on little-endian byte order (the 32-bit store that
// publishes the 16-bit buffer-ring tail, poll32_events) and on the C struct
// layouts of amd64 and arm64. Other architectures fail here, at build time,
// rather than corrupting shared memory at run time. Port abi_linux.go and
// bufring_linux.go before removing this line.
var _ = ringPackageSupportsOnlyLittleEndianAmd64AndArm64
