package config

import (
	"fmt"
	"time"
)

// resolve_interval = DURATION | off (global): how often each worker
// resolves the host names of proxy_pass and [upstream] server lines
// again, adding the addresses that appear and draining those that go
// (nginx's `server NAME resolve` with `resolver ... valid=DURATION`;
// HAProxy's resolvers with hold valid). Off by default, as in nginx
// without resolve: a name is resolved when the configuration loads
// (every address it has then becomes a backend) and not again until the
// next reload. Go's resolver does not report a record's TTL, so the
// interval, not the TTL, says when.

// minResolveInterval is the shortest resolve_interval: the loop checks
// its timers about once a second, and a shorter interval would only put
// more load on the DNS server.
const minResolveInterval = time.Second

// maxResolveInterval bounds resolve_interval; a longer one is as good as
// off (and a reload resolves anyway).
const maxResolveInterval = day

func init() {
	globalKeys["resolve_interval"] = func(_ *loader, c *Config, v string) error {
		if v == "off" {
			c.ResolveInterval = 0
			return nil
		}
		d, err := parseDuration(v, maxResolveInterval)
		if err != nil {
			return err
		}
		if d != 0 && d < minResolveInterval {
			return fmt.Errorf("%q: must be off (or 0) or at least %s", v, formatBound(minResolveInterval))
		}
		c.ResolveInterval = d
		return nil
	}
}

// formatResolveInterval writes resolve_interval's value for -T.
func formatResolveInterval(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return formatDuration(d)
}
