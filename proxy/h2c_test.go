//go:build linux

package proxy

import "testing"

// TestUpgradeH2cNotForwarded: `Upgrade: h2c` is not a tunnel to a backend
// (issue 16): the request goes upstream as plain HTTP/1.1, without the
// upgrade, while other upgrades (WebSocket) still go through.
func TestUpgradeH2cNotForwarded(t *testing.T) {
	runUpstreamHeadCases(t, []upstreamHeadCase{
		{
			name: "h2c dropped",
			in:   "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "websocket kept",
			in:   "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
			want: "GET /ws HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		},
	})
}
