//go:build linux && (amd64 || arm64)

package ring

import (
	"testing"
	"time"
)

// BenchmarkNopBatch measures one loop turn: prepare a batch of NOPs, submit
// and wait for them in one io_uring_enter, reap them with one head store.
// ns/op is per NOP.
func BenchmarkNopBatch(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(itoaTest(batch), func(b *testing.B) {
			r := newTestRing(b, Options{Entries: 64, CQEntries: 256})
			cqes := make([]CQE, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for j := range batch {
					s := r.GetSQE()
					s.Nop()
					s.SetUserData(uint64(i + j))
				}
				if err := r.SubmitAndWait(batch, time.Second); err != nil {
					b.Fatal(err)
				}
				n := r.PeekCQEs(cqes)
				r.CQAdvance(n)
				if n != batch {
					b.Fatalf("reaped %d of %d", n, batch)
				}
			}
		})
	}
}

// BenchmarkSocketpairSendRecv measures a send and a recv of 64 bytes over a
// socketpair, submitted together.
func BenchmarkSocketpairSendRecv(b *testing.B) {
	r := newTestRing(b, Options{Entries: 64})
	x, y := socketPair(b)
	out, in := offHeap(b, 64), offHeap(b, 64)
	cqes := make([]CQE, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s := r.GetSQE()
		s.Send(x, out, 0)
		s.SetUserData(1)
		s = r.GetSQE()
		s.Recv(y, in, 0)
		s.SetUserData(2)
		got := 0
		for got < 2 {
			if err := r.SubmitAndWait(2-got, time.Second); err != nil {
				b.Fatal(err)
			}
			n := r.PeekCQEs(cqes)
			r.CQAdvance(n)
			got += n
		}
	}
}

func itoaTest(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoaTest(v/10) + string(rune('0'+v%10))
}
