package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// nobody returns the nobody user and its primary group's name, or skips.
func nobody(t *testing.T) (*user.User, string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	if u.Uid == strconv.Itoa(os.Geteuid()) {
		t.Skip("the test runs as nobody")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skipf("nobody's group: %v", err)
	}
	return u, g.Name
}

func TestUserKey(t *testing.T) {
	u, group := nobody(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	tests := []struct {
		name    string
		value   string
		wantErr string
	}{
		{name: "name", value: "nobody"},
		{name: "name and group", value: "nobody " + group},
		{name: "unknown user", value: "no_such_user_x", wantErr: `u.ini:1: user: "no_such_user_x": no such user`},
		{name: "unknown group", value: "nobody no_such_group_x", wantErr: `u.ini:1: user: "no_such_group_x": no such group`},
		{name: "three words", value: "a b c", wantErr: `u.ini:1: user: "a b c": expected NAME [GROUP]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(filepath.Join(dir, "u.ini"), []byte("user = "+tt.value+"\n[server]\nlisten = 127.0.0.1:1\n"))
			if tt.wantErr != "" {
				checkErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := cfg.User; r == nil || r.UID != uid || r.GID != gid || len(r.Groups) == 0 || r.Groups[0] != gid || r.String() != tt.value {
				t.Fatalf("User = %+v, want uid %d gid %d", cfg.User, uid, gid)
			}
			checkRoundTrip(t, cfg)
		})
	}
}

// TestUserCanRead checks that Parse refuses files the workers' user
// cannot read, at their key's line, going by every directory above them.
func TestUserCanRead(t *testing.T) {
	nobody(t)
	top := t.TempDir() // 0700: nobody cannot search it
	site := filepath.Join(top, "site")
	os.Mkdir(site, 0o755)
	htpasswd := filepath.Join(site, "htpasswd")
	os.WriteFile(htpasswd, []byte("u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n"), 0o600)
	conf := "user = nobody\n[server]\nlisten = 127.0.0.1:1\nstatic_root = " + site + "\n" +
		"auth_basic = x\nauth_basic_user_file = " + htpasswd + "\n"
	_, err := Parse(filepath.Join(top, "u.ini"), []byte(conf))
	checkErr(t, err, `u.ini:4: static_root: "`+site+`": permission denied: user nobody cannot search `+filepath.Dir(top)+" (drwx------")

	os.Chmod(top, 0o755)
	os.Chmod(filepath.Dir(top), 0o755)
	_, err = Parse(filepath.Join(top, "u.ini"), []byte(conf))
	checkErr(t, err, `u.ini:6: auth_basic_user_file: "`+htpasswd+`": permission denied: user nobody cannot read `+htpasswd)

	os.Chmod(htpasswd, 0o644)
	if _, err = Parse(filepath.Join(top, "u.ini"), []byte(conf)); err != nil {
		t.Fatal(err)
	}
	// Without user, nothing is checked.
	os.Chmod(site, 0o700)
	if _, err = Parse(filepath.Join(top, "u.ini"), []byte(conf[len("user = nobody\n"):])); err != nil {
		t.Fatal(err)
	}
}
