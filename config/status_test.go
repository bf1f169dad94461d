package config

import "testing"

// TestStatusListen checks that status_listen adds a [server] of its own
// that answers /metrics and /healthz, after the file's.
func TestStatusListen(t *testing.T) {
	cfg, err := Load("testdata/status.ini")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StatusListen != "127.0.0.1:9113" || len(cfg.Servers) != 2 {
		t.Fatalf("StatusListen %q, %d servers", cfg.StatusListen, len(cfg.Servers))
	}
	s := cfg.Servers[1]
	if !s.Status || !s.Metrics || !s.Healthz || len(s.Listen) != 1 || s.Listen[0] != "127.0.0.1:9113" || s.HasProxy() || s.StaticRoot != "" {
		t.Errorf("status server: %+v", s)
	}
	if cfg.Servers[0].Status {
		t.Errorf("the file's [server] is marked Status")
	}
	if at := cfg.ListenAt("127.0.0.1:9113"); at != "testdata/status.ini:2" {
		t.Errorf("ListenAt = %q, want the status_listen line", at)
	}
}
