//go:build linux

package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose range holds it, and ranges
	// tile the line without gaps.
	prevHi := int64(-1)
	for i := 0; i < histBuckets; i++ {
		lo, hi := histRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		prevHi = hi
		for _, v := range []int64{lo, hi, lo + (hi-lo)/2} {
			if got := histIndex(v); got != i {
				t.Fatalf("histIndex(%d) = %d, want %d", v, got, i)
			}
		}
		if lo >= histSub && float64(hi-lo+1)/float64(lo) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its value", i, lo, hi, histSub)
		}
	}
}

func TestHistogramPercentiles(t *testing.T) {
	// 1..100000 µs, once each, recorded by four "loops" in shuffled order
	// and merged: pX must be X% of 100 ms within the 1/128 bucket width.
	const n = 100000
	parts := make([]Histogram, 4)
	for i, v := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		parts[i%4].Record(time.Duration(v+1) * time.Microsecond)
	}
	var h Histogram
	for i := range parts {
		h.Merge(&parts[i])
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 50 * time.Millisecond},
		{0.9, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 99900 * time.Microsecond},
		{1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.Percentile(tt.q)
		if d := got - tt.want; d < -tt.want/histSub || d > tt.want/histSub {
			t.Errorf("p%v = %v, want %v ± 0.8%%", tt.q*100, got, tt.want)
		}
	}
	if h.Count() != n || h.Max() != 100*time.Millisecond || h.Min() != time.Microsecond {
		t.Errorf("count %d max %v min %v", h.Count(), h.Max(), h.Min())
	}
	if m := h.Mean(); m != 50000500*time.Nanosecond {
		t.Errorf("mean %v, want 50.0005ms", m)
	}
}

func TestHistogramSkewed(t *testing.T) {
	// 990 fast answers and 10 slow ones: p99 is fast, p99.9 is slow, max is exact.
	var h Histogram
	for i := 0; i < 990; i++ {
		h.Record(100 * time.Microsecond)
	}
	for i := 0; i < 10; i++ {
		h.Record(2*time.Second + time.Duration(i))
	}
	if p := h.Percentile(0.99); p < 99*time.Microsecond || p > 101*time.Microsecond {
		t.Errorf("p99 = %v, want 100µs", p)
	}
	if p := h.Percentile(0.999); p < 1980*time.Millisecond || p > 2020*time.Millisecond {
		t.Errorf("p99.9 = %v, want 2s", p)
	}
	if h.Max() != 2*time.Second+9 {
		t.Errorf("max = %v", h.Max())
	}
	var empty Histogram
	if empty.Percentile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram not zero")
	}
}

func TestHistogramExtremes(t *testing.T) {
	var h Histogram
	h.Record(-5)
	h.Record(1<<63 - 1)
	if h.Min() != 0 || h.Max() != 1<<63-1 || h.Percentile(1) != 1<<63-1 {
		t.Errorf("min %d max %d p100 %d", h.Min(), h.Max(), h.Percentile(1))
	}
}
