package config

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// durationBounds is every duration key with its upper bound. form turns a
// duration into the key's value (health_check takes a path first).
var durationBounds = []struct {
	key  string
	max  time.Duration
	form func(d string) string
}{
	{"keepalive_timeout", maxClientTimeout, plain},
	{"header_timeout", maxClientTimeout, plain},
	{"body_timeout", maxClientTimeout, plain},
	{"send_timeout", maxClientTimeout, plain},
	{"proxy_connect_timeout", maxConnectTimeout, plain},
	{"proxy_timeout", maxProxyTimeout, plain},
	{"health_check", maxHealthEvery, func(d string) string { return "/healthz " + d }},
}

func plain(d string) string { return d }

// parseServerKey parses one [server] with key = value, plus a proxy_pass
// (health_check needs one) unless key is proxy_pass.
func parseServerKey(key, value string) (*Server, error) {
	text := "[server]\nlisten = 127.0.0.1:8080\n"
	if key != "proxy_pass" {
		text += "proxy_pass = 10.0.0.1\n"
	}
	cfg, err := Parse("t.ini", []byte(text+key+" = "+value+"\n"))
	if err != nil {
		return nil, err
	}
	return cfg.Servers[0], nil
}

// TestFinding15DurationBounds checks each duration key at its bound, just
// past it, and at values that overflowed the timing wheel or a
// time.Duration (finding 15 of issue 9: keepalive_timeout = 100000d
// passed -t and closed connections after 10 ms).
func TestFinding15DurationBounds(t *testing.T) {
	tooLong := []string{
		"100000d",              // fits a time.Duration; now+d wrapped in the wheel
		"106752d",              // past a time.Duration in days
		"9999999999h",          // past a time.Duration in Go syntax
		"2562048h",             // the first whole hour past it
		"99999999999999999999", // past int64 as bare seconds
		"9223372037s",          // past a time.Duration in seconds
		"1000000000000000000000000ns",
	}
	for _, b := range durationBounds {
		atMax := formatBound(b.max)
		t.Run(b.key+"="+atMax, func(t *testing.T) {
			if _, err := parseServerKey(b.key, b.form(atMax)); err != nil {
				t.Errorf("the bound itself is refused: %v", err)
			}
		})
		over := append([]string{formatBound(b.max + time.Second), (b.max + time.Nanosecond).String()}, tooLong...)
		for _, v := range over {
			t.Run(b.key+"="+v, func(t *testing.T) {
				_, err := parseServerKey(b.key, b.form(v))
				want := "t.ini:4: " + b.key + ": " + strconv.Quote(v) + ": must be at most " + atMax
				if err == nil || err.Error() != want {
					t.Errorf("got %v\nwant %s", err, want)
				}
			})
		}
	}
}

// TestFinding15EveryDurationKeyBounded finds the duration keys by what
// they do (a value of 1s lands in a time.Duration field of Server) and
// checks that each refuses 100000d, so a duration key added later cannot
// miss its bound, nor this file's table.
func TestFinding15EveryDurationKeyBounded(t *testing.T) {
	inTable := map[string]bool{}
	for _, b := range durationBounds {
		inTable[b.key] = true
	}
	found := map[string]bool{}
	durationType := reflect.TypeFor[time.Duration]()
	for key := range serverKeys {
		for _, form := range []string{"%s", "/healthz %s"} {
			s, err := parseServerKey(key, strings.Replace(form, "%s", "1s", 1))
			if err != nil {
				continue
			}
			v := reflect.ValueOf(s).Elem()
			isDuration := false
			for i := range v.NumField() {
				if f := v.Field(i); f.Type() == durationType && f.Interface() == time.Second {
					isDuration = true
				}
			}
			if !isDuration {
				continue
			}
			if !inTable[key] {
				t.Errorf("%s sets a duration but is not in durationBounds", key)
			}
			found[key] = true
			value := strings.Replace(form, "%s", "100000d", 1)
			if _, err := parseServerKey(key, value); err == nil || !strings.Contains(err.Error(), "must be at most") {
				t.Errorf("%s = %s: got %v, want an upper bound", key, value, err)
			}
		}
	}
	for key := range inTable {
		if !found[key] {
			t.Errorf("%s is in durationBounds but was not found setting a duration", key)
		}
	}
}

// TestFinding15BoundsFitTheClock checks that a deadline of now plus any
// bound, in UnixNano as the reactor keeps it, stays far from overflow
// for the next centuries.
func TestFinding15BoundsFitTheClock(t *testing.T) {
	later := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, b := range durationBounds {
		if b.max > time.Duration(math.MaxInt64-later) {
			t.Errorf("%s: bound %v overflows a UnixNano deadline before 2200", b.key, b.max)
		}
	}
}

// globalDurationBounds is every global duration key with its upper bound.
var globalDurationBounds = []struct {
	key string
	max time.Duration
}{
	{"worker_shutdown_timeout", maxClientTimeout},
	{"drain_idle_grace", maxDrainIdleGrace},
	{"resolve_interval", maxResolveInterval},
}

// TestGlobalDurationBounds checks each global duration key at its bound,
// just past it and at 100000d, and finds the global duration keys by what
// they do (7s, no default, lands in a time.Duration field of Config), so
// that a key added later cannot miss its bound.
func TestGlobalDurationBounds(t *testing.T) {
	inTable := map[string]bool{}
	for _, b := range globalDurationBounds {
		inTable[b.key] = true
		atMax := formatBound(b.max)
		if _, err := Parse("t.ini", []byte(b.key+" = "+atMax+"\n[server]\nlisten = 127.0.0.1:8080\n")); err != nil {
			t.Errorf("%s = %s: the bound itself is refused: %v", b.key, atMax, err)
		}
		for _, v := range []string{formatBound(b.max + time.Second), "100000d"} {
			_, err := Parse("t.ini", []byte(b.key+" = "+v+"\n[server]\nlisten = 127.0.0.1:8080\n"))
			want := "t.ini:1: " + b.key + ": " + strconv.Quote(v) + ": must be at most " + atMax
			if err == nil || err.Error() != want {
				t.Errorf("%s = %s: got %v\nwant %s", b.key, v, err, want)
			}
		}
	}
	durationType := reflect.TypeFor[time.Duration]()
	found := map[string]bool{}
	for key := range globalKeys {
		cfg, err := Parse("t.ini", []byte(key+" = 7s\n[server]\nlisten = 127.0.0.1:8080\n"))
		if err != nil {
			continue
		}
		v := reflect.ValueOf(cfg).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Type() == durationType && f.Interface() == 7*time.Second {
				found[key] = true
				if !inTable[key] {
					t.Errorf("%s sets a duration but is not in globalDurationBounds", key)
				}
			}
		}
	}
	for key := range inTable {
		if !found[key] {
			t.Errorf("%s is in globalDurationBounds but was not found setting a duration", key)
		}
	}
}

// TestFinding15ParseDuration checks the parser itself: overflow is an
// error in every syntax, never a wrapped value.
func TestFinding15ParseDuration(t *testing.T) {
	const unbounded = time.Duration(math.MaxInt64)
	tests := []struct {
		v       string
		max     time.Duration
		want    time.Duration
		wantErr string
	}{
		{v: "0", max: time.Hour, want: 0},
		{v: "3600", max: time.Hour, want: time.Hour},
		{v: "3601", max: time.Hour, wantErr: `"3601": must be at most 1h`},
		{v: "1d", max: day, want: day},
		{v: "2d", max: day, wantErr: `"2d": must be at most 24h`},
		{v: "7d", max: 7 * day, want: 7 * day},
		{v: "168h0m1s", max: 7 * day, wantErr: `"168h0m1s": must be at most 7d`},
		{v: "+1.5h", max: 7 * day, want: 90 * time.Minute},
		{v: "1µs", max: time.Second, want: time.Microsecond},
		{v: "106751d", max: unbounded, want: 106751 * day},
		{v: "106752d", max: unbounded, wantErr: `"106752d": must be at most 2562047h47m16.854775807s`},
		{v: "9223372036854775807ns", max: unbounded, want: unbounded},
		{v: "9223372036854775808ns", max: unbounded, wantErr: `must be at most`},
		{v: "9999999999h", max: unbounded, wantErr: `"9999999999h": must be at most`},
		{v: "9223372036", max: unbounded, want: 9223372036 * time.Second},
		{v: "9223372037", max: unbounded, wantErr: `"9223372037": must be at most`},
		{v: "-9999999999h", max: unbounded, wantErr: `"-9999999999h": must not be negative`},
		{v: "-1s", max: time.Hour, wantErr: `"-1s": must not be negative`},
		{v: "1e3s", max: time.Hour, wantErr: `"1e3s": not a duration`},
		{v: ".s", max: time.Hour, wantErr: `".s": not a duration`},
		{v: "5x", max: time.Hour, wantErr: `"5x": not a duration`},
		{v: "1dd", max: time.Hour, wantErr: `"1dd": not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			d, err := parseDuration(tt.v, tt.max)
			if !checkErr(t, err, tt.wantErr) {
				return
			}
			if d != tt.want {
				t.Errorf("got %v, want %v", d, tt.want)
			}
		})
	}
}

func TestFormatBound(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * day: "7d", 2 * day: "2d", day: "24h", 36 * time.Hour: "36h", 10 * time.Minute: "10m",
		90 * time.Second: "90s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := formatBound(d); got != want {
			t.Errorf("formatBound(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzParseDuration checks that parseDuration never returns a value
// outside [0, max], agrees with time.ParseDuration wherever that accepts
// a value in range, and names the value in every error. Seeds are in
// testdata/fuzz/FuzzParseDuration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"75s", "100000d", "9999999999h", "1.5h", "-1s", "30", "1m30s"} {
		f.Add(s)
	}
	const max = maxProxyTimeout
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseDuration(v, max)
		if err != nil {
			if !strings.HasPrefix(err.Error(), strconv.Quote(v)+": ") {
				t.Fatalf("error %q does not start with the value", err)
			}
		} else if d < 0 || d > max {
			t.Fatalf("parseDuration(%q) = %v, outside [0, %v]", v, d, max)
		}
		if want, gerr := time.ParseDuration(v); gerr == nil && want >= 0 && want <= max && (err != nil || d != want) {
			t.Fatalf("parseDuration(%q) = %v, %v; time.ParseDuration says %v", v, d, err, want)
		}
	})
}
