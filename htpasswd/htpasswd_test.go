package htpasswd

import (
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The vectors were made with `openssl passwd` (OpenSSL 3) and
// golang.org/x/crypto/bcrypt.
func TestCheck(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := "# users\n" +
		"sha256:$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5\n" +
		"sha512:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n" +
		"rounds:$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA\r\n" +
		"glibc:$6$salt$AkOOBO38SQQ8T8Q46KuCONe.8zg41nvCDKDq7pVQd2n2hy8sf8aR3G89VY.57up0eSIa/69odCCcLT4hx7FpW/\n" +
		"apr:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n" +
		"md5:$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1\n" +
		"sha1:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n" +
		"bcrypt:" + string(bc) + "\n\n"
	f, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"sha256", "Hello world!", true},
		{"sha256", "Hello world?", false},
		{"sha512", "Hello world!", true},
		{"rounds", "Hello world!", true},
		{"glibc", "pw", true},
		{"apr", "secret", true},
		{"apr", "Secret", false},
		{"md5", "secret", true},
		{"sha1", "secret", true},
		{"sha1", "secrets", false},
		{"bcrypt", "bcrypt pw", true},
		{"bcrypt", "bcrypt pw ", false},
		{"nobody", "secret", false},
		{"", "", false},
	}
	for _, tt := range tests {
		for round := range 2 { // the second time, a good password comes from the cache
			if got := f.Check([]byte(tt.user), []byte(tt.pw)); got != tt.ok {
				t.Errorf("round %d: Check(%q, %q) = %v, want %v", round, tt.user, tt.pw, got, tt.ok)
			}
		}
	}
	if f.Len() != 8 {
		t.Errorf("Len = %d, want 8", f.Len())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []string{
		"nocolon\n",
		"des:abJnggxhB/yWI\n",
		"plain:{PLAIN}secret\n",
		"a:$5$salt$short\n",
		"a:$apr1$abcdefgh$short\n",
		"a:{SHA}notbase64!\n",
		"a:$2y$10$tooshort\n",
		"a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\na:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
		"a:\n",
	}
	for _, in := range tests {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q): %v, want ErrFormat", in, err)
		}
	}
}
