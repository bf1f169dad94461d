// The h2spec conformance tester (HTTP/2 server conformance, RFC 7540/9113
// and RFC 7541), built by TestH2spec (server/h2spec_test.go) in this module
// of its own, so that its dependencies stay out of nproxy's go.mod. h2spec
// has no go.mod of its own: the versions below are pinned (what
// `go install github.com/summerwind/h2spec/cmd/h2spec@latest` resolved for
// v2.2.1 when this was written), and go.sum fixes their hashes.
module nproxy.test/h2spec

go 1.26

require (
	github.com/fatih/color v1.19.0
	github.com/mattn/go-colorable v0.1.14
	github.com/mattn/go-isatty v0.0.20
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	github.com/summerwind/h2spec v2.2.1+incompatible
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
	golang.org/x/text v0.43.0
)
