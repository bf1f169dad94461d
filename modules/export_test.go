package modules

import "testing"

// BuildModule is buildModule for the tests of package modules_test.
func BuildModule(t testing.TB, kind Kind, dir string) string { return buildModule(t, kind, dir) }
