package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a bounded latency histogram in the layout of HdrHistogram (Gil Tene's
// HdrHistogram, the "log-linear" buckets of github.com/HdrHistogram/hdrhistogram-go): values
// are microseconds; below 2^Bits every value has its own bucket, above it every power of two
// is split into 2^(Bits-1) equal buckets, so a value is kept to a relative precision of
// 2^-(Bits-1) (Bits 11: 1/1024, three significant digits) however many samples arrive. The
// buckets are allocated once (values above about 19 hours are clamped), so memory stays flat
// over a run of any length, and Record neither allocates nor locks: it is a few atomic adds,
// so sessions can share one histogram.
//
// Two histograms of the same Bits merge by adding their counts, which is lossless: the
// percentiles of the merge are those of the union of the samples (bench merge relies on it).
type Hist struct {
	Bits   uint8 // sub-bucket bits: 11 for the run's totals, 5 for the per-second series
	counts []int64
	min    int64 // µs; math.MaxInt64 while empty
	max    int64
	sum    int64
}

// HistBits is the precision of the totals (three significant digits) and SeriesBits that of
// the per-second histograms of the time series (about 3%, few buckets per second in --json).
const (
	HistBits   = 11
	SeriesBits = 5
	histMaxLog = 36 // values clamp at 2^36-1 µs, about 19 hours
)

// NewHist returns an empty histogram with 2^bits sub-buckets (2 ≤ bits ≤ 20).
func NewHist(bits uint8) *Hist {
	if bits < 2 || bits > 20 {
		panic(fmt.Sprintf("bench: histogram bits %d out of range", bits))
	}
	h := &Hist{Bits: bits, min: math.MaxInt64}
	h.counts = make([]int64, h.index(1<<histMaxLog-1)+1)
	return h
}

// index is v's bucket: v itself below 2^Bits, else e·2^(Bits-1) + (v >> e) with e the number of
// bits v has above Bits.
func (h *Hist) index(v int64) int {
	b := int(h.Bits)
	if v < 1<<b {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - b
	return e<<(b-1) + int(v>>e)
}

// bounds are the smallest and largest value of bucket i.
func (h *Hist) bounds(i int) (lo, hi int64) {
	b := int(h.Bits)
	if i < 1<<b {
		return int64(i), int64(i)
	}
	e := i>>(b-1) - 1
	m := int64(i - e<<(b-1))
	return m << e, (m+1)<<e - 1
}

// Record adds one sample.
func (h *Hist) Record(d time.Duration) { h.RecordMicros(d.Microseconds()) }

// RecordMicros adds one sample of us microseconds.
func (h *Hist) RecordMicros(us int64) {
	us = min(max(us, 0), 1<<histMaxLog-1)
	atomic.AddInt64(&h.counts[h.index(us)], 1)
	atomic.AddInt64(&h.sum, us)
	for m := atomic.LoadInt64(&h.max); us > m && !atomic.CompareAndSwapInt64(&h.max, m, us); m = atomic.LoadInt64(&h.max) {
	}
	for m := atomic.LoadInt64(&h.min); us < m && !atomic.CompareAndSwapInt64(&h.min, m, us); m = atomic.LoadInt64(&h.min) {
	}
}

// N is the number of samples.
func (h *Hist) N() int64 {
	var n int64
	for i := range h.counts {
		n += atomic.LoadInt64(&h.counts[i])
	}
	return n
}

// Max is the largest sample.
func (h *Hist) Max() time.Duration { return time.Duration(atomic.LoadInt64(&h.max)) * time.Microsecond }

// Quantile is the value at or below which a fraction q of the samples lie (the sample of rank
// ⌈q·N⌉, as HdrHistogram's ValueAtQuantile): the highest value of its bucket, never more than
// Max. Within 2^-(Bits-1) of the exact sample.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.N()
	if n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var seen int64
	for i := range h.counts {
		seen += atomic.LoadInt64(&h.counts[i])
		if seen >= rank {
			_, hi := h.bounds(i)
			return time.Duration(min(hi, atomic.LoadInt64(&h.max))) * time.Microsecond
		}
	}
	return h.Max()
}

// Percentiles summarises the histogram.
func (h *Hist) Percentiles() Percentiles {
	return Percentiles{N: int(h.N()), P50: h.Quantile(0.5), P90: h.Quantile(0.9), P99: h.Quantile(0.99), Max: h.Max()}
}

// Merge adds o's samples to h; both must have the same Bits.
func (h *Hist) Merge(o *Hist) error {
	if o.Bits != h.Bits {
		return fmt.Errorf("bench: cannot merge a histogram of %d sub-bucket bits into one of %d", o.Bits, h.Bits)
	}
	empty := true
	for i := range o.counts {
		if c := atomic.LoadInt64(&o.counts[i]); c != 0 {
			atomic.AddInt64(&h.counts[i], c)
			empty = false
		}
	}
	if empty {
		return nil
	}
	atomic.AddInt64(&h.sum, atomic.LoadInt64(&o.sum))
	if m := atomic.LoadInt64(&o.max); m > atomic.LoadInt64(&h.max) {
		atomic.StoreInt64(&h.max, m)
	}
	if m := atomic.LoadInt64(&o.min); m < atomic.LoadInt64(&h.min) {
		atomic.StoreInt64(&h.min, m)
	}
	return nil
}

// Drain moves every sample of h into a new histogram and leaves h empty, bucket by bucket
// with atomic swaps: a sample recorded meanwhile lands in this drain or the next, never in
// neither. The time series drains its per-second histograms with it.
func (h *Hist) Drain() *Hist {
	out := NewHist(h.Bits)
	for i := range h.counts {
		if atomic.LoadInt64(&h.counts[i]) != 0 {
			out.counts[i] = atomic.SwapInt64(&h.counts[i], 0)
		}
	}
	out.sum = atomic.SwapInt64(&h.sum, 0)
	out.max = atomic.SwapInt64(&h.max, 0)
	out.min = atomic.SwapInt64(&h.min, math.MaxInt64)
	return out
}

// histJSON is the lossless form: every non-empty bucket as [index, count], with the low and
// high value of the bucket so a reader needs no code to plot it.
type histJSON struct {
	Unit          string     `json:"unit"`
	SubBucketBits uint8      `json:"sub_bucket_bits"`
	N             int64      `json:"n"`
	MinUs         int64      `json:"min_us"`
	MaxUs         int64      `json:"max_us"`
	SumUs         int64      `json:"sum_us"`
	Buckets       [][4]int64 `json:"buckets"` // index, count, lowest µs, highest µs
}

// MarshalJSON writes the histogram losslessly.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{Unit: "us", SubBucketBits: h.Bits, N: h.N(), MaxUs: atomic.LoadInt64(&h.max), SumUs: atomic.LoadInt64(&h.sum), Buckets: [][4]int64{}}
	if j.N > 0 {
		j.MinUs = atomic.LoadInt64(&h.min)
	}
	for i := range h.counts {
		if c := atomic.LoadInt64(&h.counts[i]); c != 0 {
			lo, hi := h.bounds(i)
			j.Buckets = append(j.Buckets, [4]int64{int64(i), c, lo, hi})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.SubBucketBits < 2 || j.SubBucketBits > 20 {
		return fmt.Errorf("bench: histogram with %d sub-bucket bits", j.SubBucketBits)
	}
	*h = *NewHist(j.SubBucketBits)
	for _, bk := range j.Buckets {
		if bk[0] < 0 || bk[0] >= int64(len(h.counts)) || bk[1] < 0 {
			return fmt.Errorf("bench: histogram bucket %d out of range", bk[0])
		}
		h.counts[bk[0]] += bk[1]
	}
	h.max, h.sum = j.MaxUs, j.SumUs
	if j.N > 0 {
		h.min = j.MinUs
	}
	return nil
}
