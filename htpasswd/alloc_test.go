//go:build !race

package htpasswd

import "testing"

// TestCheckAllocs proves that a password that checked out before is
// checked again without allocating.
func TestCheckAllocs(t *testing.T) {
	f, err := Parse([]byte("u:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n"))
	if err != nil {
		t.Fatal(err)
	}
	user, pw := []byte("u"), []byte("Hello world!")
	if !f.Check(user, pw) {
		t.Fatal("the password does not check out")
	}
	if n := testing.AllocsPerRun(1000, func() { f.Check(user, pw) }); n != 0 {
		t.Errorf("Check: %v allocs, want 0", n)
	}
}
