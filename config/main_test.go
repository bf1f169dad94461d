package config

import (
	"os"
	"testing"
)

// TestMain checks parsing and validation of every key, including those
// whose feature the build does not have yet: only TLS stays refused, so the
// golden files describe the parser, not the build. TestNotImplementedMap
// covers the refusal itself.
func TestMain(m *testing.M) {
	NotImplemented = map[string]string{"tls_cert": "TLS", "tls_key": "TLS"}
	os.Exit(m.Run())
}
