package bench

import (
	"encoding/json"
	"math"
	"math/rand"
	"runtime"
	"sort"
	"testing"
	"time"
)

// exactQuantile is the sample of rank ⌈q·N⌉, what Hist.Quantile approximates.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

// withinPrecision says whether got is the exact value to the histogram's precision: the bucket
// of a value v ≥ 2^bits is at most v·2^-(bits-1) wide, and Quantile returns its top.
func withinPrecision(got, exact int64, bits uint8) bool {
	return got >= exact && float64(got-exact) <= float64(exact)/float64(int64(1)<<(bits-1))
}

func TestHistBuckets(t *testing.T) {
	for _, bits := range []uint8{5, 11} {
		h := NewHist(bits)
		prev := -1
		for _, v := range []int64{0, 1, 31, 32, 63, 64, 1000, 2047, 2048, 2049, 4095, 4096, 1e6, 123456789, 1<<histMaxLog - 1} {
			i := h.index(v)
			lo, hi := h.bounds(i)
			if v < lo || v > hi {
				t.Errorf("bits %d: %d in bucket %d [%d,%d]", bits, v, i, lo, hi)
			}
			if i < prev {
				t.Errorf("bits %d: index of %d (%d) below the previous one", bits, v, i)
			}
			if v >= 1<<bits && float64(hi-lo+1) > float64(v)/float64(int64(1)<<(bits-1)) {
				t.Errorf("bits %d: bucket of %d is %d wide", bits, v, hi-lo+1)
			}
			prev = i
		}
		// Buckets tile the range: each starts where the last ended.
		for i := 1; i < len(h.counts); i++ {
			_, hi := h.bounds(i - 1)
			if lo, _ := h.bounds(i); lo != hi+1 {
				t.Fatalf("bits %d: bucket %d starts at %d, bucket %d ends at %d", bits, i, lo, i-1, hi)
			}
		}
	}
}

// TestHistMillionSamples: a million samples leave memory where it was (no allocation per
// sample, the buckets fixed) and the percentiles within the histogram's precision.
func TestHistMillionSamples(t *testing.T) {
	h := NewHist(HistBits)
	buckets := len(h.counts)
	rng := rand.New(rand.NewSource(1))
	const n = 1_000_000
	samples := make([]int64, n)
	for i := range samples {
		// Log-normal around 2 ms with a tail into seconds, as SMTP latencies look.
		samples[i] = int64(math.Exp(rng.NormFloat64()*1.2 + math.Log(2000)))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, s := range samples {
		h.RecordMicros(s)
	}
	runtime.ReadMemStats(&after)
	// TotalAlloc is the process's: the runtime (and -race) allocate a little meanwhile; one
	// byte per sample would be a megabyte.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("recording a million samples allocated %d bytes", grew)
	}
	if len(h.counts) != buckets {
		t.Errorf("buckets grew from %d to %d", buckets, len(h.counts))
	}
	if a := testing.AllocsPerRun(1000, func() { h.Record(3 * time.Millisecond) }); a != 0 {
		t.Errorf("Record allocates %v times", a)
	}
	h = NewHist(HistBits)
	for _, s := range samples {
		h.RecordMicros(s)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	if h.N() != n {
		t.Fatalf("N = %d", h.N())
	}
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		got, exact := h.Quantile(q).Microseconds(), exactQuantile(samples, q)
		if !withinPrecision(got, exact, HistBits) {
			t.Errorf("q%v: %d µs, exact %d µs", q, got, exact)
		}
	}
	if h.Max().Microseconds() != samples[n-1] {
		t.Errorf("max %v, want %d µs", h.Max(), samples[n-1])
	}
}

// TestHistMergeIsLossless: the merge of two histograms, and one read back from JSON, give
// exactly the percentiles of one histogram of the union of their samples.
func TestHistMergeIsLossless(t *testing.T) {
	for _, bits := range []uint8{SeriesBits, HistBits} {
		a, b, union := NewHist(bits), NewHist(bits), NewHist(bits)
		rng := rand.New(rand.NewSource(int64(bits)))
		for i := 0; i < 50000; i++ {
			v := int64(rng.ExpFloat64() * 5000)
			if i%3 == 0 {
				v *= 20 // the other machine is slower
				b.RecordMicros(v)
			} else {
				a.RecordMicros(v)
			}
			union.RecordMicros(v)
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var back Hist
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		merged := NewHist(bits)
		for _, h := range []*Hist{a, &back} {
			if err := merged.Merge(h); err != nil {
				t.Fatal(err)
			}
		}
		if merged.Percentiles() != union.Percentiles() {
			t.Errorf("bits %d: merged %+v, union %+v", bits, merged.Percentiles(), union.Percentiles())
		}
		for _, q := range []float64{0.25, 0.75, 0.999} {
			if merged.Quantile(q) != union.Quantile(q) {
				t.Errorf("bits %d q%v: merged %v, union %v", bits, q, merged.Quantile(q), union.Quantile(q))
			}
		}
	}
	if err := NewHist(HistBits).Merge(NewHist(SeriesBits)); err == nil {
		t.Error("histograms of different precision merged")
	}
}

func TestHistDrain(t *testing.T) {
	h := NewHist(SeriesBits)
	for _, v := range []int64{10, 20, 3000} {
		h.RecordMicros(v)
	}
	d := h.Drain()
	if d.N() != 3 || h.N() != 0 || d.Max() != 3*time.Millisecond {
		t.Errorf("drained %d (max %v), left %d", d.N(), d.Max(), h.N())
	}
	h.RecordMicros(5)
	if p := h.Percentiles(); p.N != 1 || p.Max != 5*time.Microsecond {
		t.Errorf("after a drain: %+v", p)
	}
}
