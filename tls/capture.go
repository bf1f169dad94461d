package tls

import (
	"bytes"
	"encoding/hex"
)

// capture collects what EnableKTLS needs from one server handshake:
//
//   - the secrets, from crypto/tls's key log (Config.KeyLogWriter, the
//     only way it exposes them), in NSS key log lines: for TLS 1.3
//     CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0, for TLS 1.2
//     CLIENT_RANDOM with the master secret;
//   - the ciphertext crypto/tls wrote and read during the handshake, to
//     learn the server random (TLS 1.2's key block needs it and crypto/tls
//     does not expose it) and to count the records already sent and
//     received under the application keys (the kernel must continue their
//     sequence numbers).
//
// It is written by the handshake goroutine (Write under crypto/tls's key
// log lock, in and out under the pipe's mutex) and read by the loop thread
// after the pipe reported the handshake finished.
type capture struct {
	masterSecret  []byte // TLS 1.2
	clientTraffic []byte // TLS 1.3 client_application_traffic_secret_0
	serverTraffic []byte // TLS 1.3 server_application_traffic_secret_0
	clientRandom  []byte
	badLine       bool // a key log line did not parse

	in, out []byte // handshake ciphertext read and written, whole records
}

// Write takes one key log line: "LABEL <client random hex> <secret hex>\n".
func (c *capture) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		c.badLine = true
		return len(line), nil
	}
	random, err1 := hex.DecodeString(string(f[1]))
	secret, err2 := hex.DecodeString(string(f[2]))
	if err1 != nil || err2 != nil {
		c.badLine = true
		return len(line), nil
	}
	switch string(f[0]) {
	case "CLIENT_RANDOM":
		c.masterSecret = secret
	case "CLIENT_TRAFFIC_SECRET_0":
		c.clientTraffic = secret
	case "SERVER_TRAFFIC_SECRET_0":
		c.serverTraffic = secret
	default:
		return len(line), nil // handshake traffic secrets: not needed
	}
	c.clientRandom = random
	return len(line), nil
}
