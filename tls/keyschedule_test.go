package tls

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestTrafficKeysRFC8448 derives write keys and IVs from the traffic
// secrets of RFC 8448 §3 ("Simple 1-RTT Handshake", TLS_AES_128_GCM_SHA256)
// and compares them with the values the RFC lists ("derive write traffic
// keys for handshake data" / "for application data").
func TestTrafficKeysRFC8448(t *testing.T) {
	tests := []struct {
		name, secret, key, iv string
	}{
		{"server handshake", "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
			"3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"},
		{"client handshake", "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
			"dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"},
		{"server application", "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
			"9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"},
		{"client application", "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
			"17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"},
	}
	for _, tt := range tests {
		key, iv, err := trafficKeys13(sha256.New, unhex(t, tt.secret), 16)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(key, unhex(t, tt.key)) || !bytes.Equal(iv, unhex(t, tt.iv)) {
			t.Errorf("%s: key %x iv %x, want %s %s", tt.name, key, iv, tt.key, tt.iv)
		}
	}
}

// TestPRF12 checks the TLS 1.2 PRF against the P_SHA256 test vector
// circulated on the IETF TLS working group's list (secret, "test label",
// seed; 100 bytes).
func TestPRF12(t *testing.T) {
	got := prf12(sha256.New, unhex(t, "9bbe436ba940f017b17652849a71db35"), "test label",
		unhex(t, "a0ba9f936cda311827a6f796ffd5198c"), 100)
	want := unhex(t, "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"+
		"6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"+
		"4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"+
		"87347b66")
	if !bytes.Equal(got, want) {
		t.Errorf("prf12 = %x\nwant     %x", got, want)
	}
}

// TestOpenRecordRejects refuses a record that was tampered with, sealed
// at another sequence number, or too short.
func TestOpenRecordRejects(t *testing.T) {
	for _, tls13 := range []bool{true, false} {
		k := makeKernelKeys(0x0304, bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 12), 5)
		if !tls13 {
			k = makeKernelKeys(0x0303, bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 4), 5)
		}
		sim := newKernelSim(t, k)
		rec := sim.seal(recordTypeApplicationData, []byte("hello"))
		open := func(seq uint64, rec []byte) error {
			_, _, err := openRecord(tls13, sim.aead, sim.ivForOpen(), seq, rec)
			return err
		}
		if err := open(5, rec); err != nil {
			t.Fatalf("tls13=%v: genuine record: %v", tls13, err)
		}
		bad := bytes.Clone(rec)
		bad[len(bad)-1] ^= 1
		for name, err := range map[string]error{
			"tampered":     open(5, bad),
			"wrong seq":    open(6, rec),
			"short":        open(5, rec[:recordHeaderLen+3]),
			"header only":  open(5, rec[:recordHeaderLen]),
			"empty record": open(5, nil),
		} {
			if err == nil {
				t.Errorf("tls13=%v: %s record opened", tls13, name)
			}
		}
	}
}
