//go:build linux

package bench

import (
	"math/bits"
	"time"
)

// histSubBits is the number of bits of linear resolution inside each power
// of two: 2^7 = 128 sub-buckets keep every recorded value within 1/128
// (0.8%) of its true value, HdrHistogram's "2 significant digits" class.
const histSubBits = 7

const (
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub // the last one holds math.MaxInt64
)

// Histogram is a log-linear latency histogram in the HdrHistogram style:
// values below 128 ns are exact, larger ones fall into one of 128 linear
// sub-buckets of their power of two. Its memory is fixed (57 KiB),
// Record never allocates, and histograms recorded by different loops are
// combined with Merge. A Histogram is not safe for concurrent use: each
// goroutine records into its own and they are merged afterwards.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	sum    uint64 // nanoseconds, for the mean
	min    int64
	max    int64
}

// histIndex maps a non-negative value to its bucket.
func histIndex(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - histSubBits
	return (shift+1)*histSub + int(uint64(v)>>uint(shift)) - histSub
}

// histRange returns the smallest and largest values that map to bucket i.
func histRange(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	lo = int64(i%histSub+histSub) << uint(shift)
	return lo, lo + (int64(1) << uint(shift)) - 1
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += uint64(v)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest recorded value, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the average of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Percentile returns the value below or at which the fraction q (0..1) of the
// recorded values lie: the midpoint of the bucket holding that rank, clamped
// to the exact minimum and maximum. It returns 0 for an empty histogram.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank >= h.total {
		return time.Duration(h.max) // the top rank is the exact maximum
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histRange(i)
			v := lo + (hi-lo)/2
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
