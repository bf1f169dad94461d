package http

import "strconv"

// MaxTries bounds the attempts of one proxied request that a StreamLog
// keeps (the reverse proxy tries at most three backends).
const MaxTries = 3

// UpstreamTry is one attempt of a proxied request on a backend, as the
// access log shows it ($upstream_addr, $upstream_status, ...).
type UpstreamTry struct {
	Addr       string // the backend, as written in proxy_pass
	Status     int    // the backend's status; the answer given for a failed attempt (502, 504)
	ConnectNs  int64  // time to connect (0 on a pooled connection); -1 when it did not connect
	ResponseNs int64  // from the attempt's start to the end of its response or its failure; -1 unknown
}

// StreamLog is what a streaming step tells the access log about its
// exchange beyond Client.SetResult: the backends it tried. The client
// owns it; the step fills it in until it releases the client.
type StreamLog struct {
	Tries [MaxTries]UpstreamTry
	N     int // attempts recorded
}

// Try returns the attempt being made (the last one), or nil.
func (l *StreamLog) Try() *UpstreamTry {
	if l == nil || l.N == 0 {
		return nil
	}
	return &l.Tries[l.N-1]
}

// Start records a new attempt on addr; past MaxTries the last slot is
// reused.
func (l *StreamLog) Start(addr string) {
	if l == nil {
		return
	}
	if l.N < MaxTries {
		l.N++
	}
	l.Tries[l.N-1] = UpstreamTry{Addr: addr, ConnectNs: -1, ResponseNs: -1}
}

// AppendAddrs appends the backends tried, ", " between them, as
// $upstream_addr shows them; nothing for a nil l or no attempt.
func (l *StreamLog) AppendAddrs(b []byte) []byte {
	if l == nil {
		return b
	}
	for i := 0; i < l.N; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, l.Tries[i].Addr...)
	}
	return b
}

// AppendStatuses appends each attempt's status, ", " between them, '-'
// for an attempt without one, as $upstream_status shows them; nothing
// for a nil l or no attempt.
func (l *StreamLog) AppendStatuses(b []byte) []byte {
	if l == nil {
		return b
	}
	for i := 0; i < l.N; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		if s := l.Tries[i].Status; s != 0 {
			b = strconv.AppendInt(b, int64(s), 10)
		} else {
			b = append(b, '-')
		}
	}
	return b
}
