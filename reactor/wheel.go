//go:build linux

package reactor

import "time"

// The timing wheel keeps one timer per connection (header, idle, send and
// upstream timeouts are all "the connection's deadline"). A hashed wheel
// (Varghese and Lauck) makes arming, re-arming and disarming O(1), which
// matters because every request re-arms its connection's timer.
const (
	wheelSlots = 512                   // NP_TIMEOUT_BUCKETS
	wheelMask  = wheelSlots - 1        //
	wheelTick  = 10 * time.Millisecond // resolution of every timeout
	// maxPollWait bounds a poll when no timer is near, so that the loop
	// still notices the clock (Date header, drain) about once a second.
	maxPollWait = time.Second
)

// wheel is a hashed timing wheel whose entries are links inside Conns,
// named by table index, so that an armed timer costs no allocation.
type wheel struct {
	slots [wheelSlots]int32 // first Conn index of each slot, -1 = empty
	tick  int64             // last tick processed
	armed int               // timers armed
	fire  []int64           // scratch: (index<<32 | gen) of expired conns
	l     *Loop
}

func (w *wheel) init(l *Loop, now int64) {
	w.l = l
	for i := range w.slots {
		w.slots[i] = -1
	}
	w.tick = now / int64(wheelTick)
}

// set arms c's timer to fire d from now (d <= 0 disarms it).
func (w *wheel) set(c *Conn, d time.Duration) {
	w.remove(c)
	if d <= 0 {
		return
	}
	due := (w.l.now + int64(d) + int64(wheelTick) - 1) / int64(wheelTick)
	if due <= w.tick {
		due = w.tick + 1
	}
	c.tdue = due
	s := &w.slots[due&wheelMask]
	c.tprev = -1
	c.tnext = *s
	if *s >= 0 {
		w.l.conns[*s].tprev = int32(c.idx)
	}
	*s = int32(c.idx)
	w.armed++
}

// remove disarms c's timer if it is armed.
func (w *wheel) remove(c *Conn) {
	if c.tdue == 0 {
		return
	}
	if c.tprev >= 0 {
		w.l.conns[c.tprev].tnext = c.tnext
	} else {
		w.slots[c.tdue&wheelMask] = c.tnext
	}
	if c.tnext >= 0 {
		w.l.conns[c.tnext].tprev = c.tprev
	}
	c.tdue, c.tprev, c.tnext = 0, -1, -1
	w.armed--
}

// advance fires every timer due at or before now.
func (w *wheel) advance(now int64) {
	nowTick := now / int64(wheelTick)
	if nowTick <= w.tick {
		return
	}
	from := w.tick + 1
	if nowTick-from >= wheelSlots {
		from = nowTick - wheelSlots + 1
	}
	w.fire = w.fire[:0]
	if w.armed > 0 {
		for t := from; t <= nowTick; t++ {
			for i := w.slots[t&wheelMask]; i >= 0; {
				c := w.l.conns[i]
				i = c.tnext
				if c.tdue <= nowTick {
					w.remove(c)
					w.fire = append(w.fire, int64(c.idx)<<32|int64(c.gen))
				}
			}
		}
	}
	w.tick = nowTick
	// Fire after the walk: a handler may re-arm or close any connection.
	for _, f := range w.fire {
		c := w.l.conns[f>>32]
		switch {
		case c.gen != uint32(f):
		case c.Open():
			c.H.OnTimeout(c)
		case c.flags&(flagOpen|flagClosing) == flagOpen|flagClosing:
			w.l.b.lingerExpired(c) // closed, its slot kept by the backend
		}
	}
}

// next returns how long the loop may sleep before a timer can be due.
func (w *wheel) next(now int64) time.Duration {
	if w.armed == 0 {
		return maxPollWait
	}
	nowTick := now / int64(wheelTick)
	limit := int64(maxPollWait / wheelTick)
	for t := w.tick + 1; t <= w.tick+limit; t++ {
		if w.slots[t&wheelMask] >= 0 {
			d := time.Duration(t*int64(wheelTick) - now)
			if t <= nowTick || d < 0 {
				return 0
			}
			return d
		}
	}
	return maxPollWait
}
