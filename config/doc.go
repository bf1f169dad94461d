// Package config reads and validates nproxy's INI configuration.
//
// A file is read with gopkg.in/ini.v1. Keys before the first section are
// global; every [server] section (the name repeats) describes one virtual
// server. The keys `rewrite`, `tls_cert` and `tls_key` may repeat inside a
// section (the Nth tls_cert pairs with the Nth tls_key); every other key may
// appear once.
//
// Parse and Load check everything they can without starting a server:
// unknown keys and sections (nginx's "unknown directive"), malformed and
// out-of-range values, missing files, and conflicts between servers. They
// report every problem at once, one "FILE:LINE: message" line each, through
// the Errors type, so that `nproxy -t` can print them all. They also read
// the certificates and keys the TLS keys name and check that each key
// belongs to its certificate (tls.go). What loads but deserves attention,
// such as a certificate that expires within 30 days, is not an error: it
// is returned in Config.Warnings, "FILE:LINE: warning: message" each.
//
// ini.v1 does not keep line numbers, so this package first scans the raw
// text itself (scan.go). The scan finds each section header and each key
// line, rejects the lines ini.v1 would refuse or read differently (they are
// reported with their line and blanked before ini.v1 sees the text), and maps
// (section occurrence, key, occurrence of the key) to a line.
//
// Value syntax follows nginx where the two overlap: sizes such as 1m,
// durations such as 75s or 500ms, on/off switches, try_files tokens and
// rewrite rules with $1 captures. Two details of the INI syntax are fixed on
// purpose: a comment after a value needs a space before its '#' or ';'
// (so regular expressions may contain both), and a trailing backslash does
// not continue a line.
package config
