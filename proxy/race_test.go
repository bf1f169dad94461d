//go:build linux && race

package proxy_test

// raceEnabled is true under the race detector, whose shadow memory
// multiplies every heap allocation's footprint in RSS.
const raceEnabled = true
