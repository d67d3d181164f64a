package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// ReadResult reads a result `exlab bench --json` wrote; Latency is computed again from the
// histograms, which are the lossless part.
func ReadResult(r io.Reader) (*Result, error) {
	var res Result
	if err := json.NewDecoder(r).Decode(&res); err != nil {
		return nil, err
	}
	if res.Histograms == nil {
		return nil, fmt.Errorf("no histograms: not the --json of exlab bench")
	}
	for i := range res.Series {
		res.Series[i].fill()
	}
	res.fill()
	return &res, nil
}

// Merge combines runs that loaded the same server at the same time from several machines into
// one result: counts and histograms add (so the merged percentiles are those of the union of
// the samples), the run spans from the first start to the last end, and the series add second
// by second (by wall clock, so the machines' clocks should agree).
func Merge(runs ...*Result) (*Result, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	out := &Result{Target: runs[0].Target, Replies: map[string]int64{}, Errors: map[string]int64{}, Histograms: map[string]*Hist{}, Start: runs[0].Start}
	var end time.Time
	seconds := map[int64]*Second{}
	for _, r := range runs {
		if r.Target != out.Target {
			out.Target += "," + r.Target
		}
		out.Sent += r.Sent
		out.Failed += r.Failed
		out.Bytes += r.Bytes
		out.Sessions += r.Sessions
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if e := r.Start.Add(r.Elapsed); e.After(end) {
			end = e
		}
		addCounts(out.Replies, r.Replies)
		addCounts(out.Errors, r.Errors)
		if err := mergeHists(out.Histograms, r.Histograms, HistBits); err != nil {
			return nil, err
		}
		for _, s := range r.Series {
			m := seconds[s.Unix]
			if m == nil {
				m = &Second{Unix: s.Unix, Replies: map[string]int64{}, Histograms: map[string]*Hist{}}
				seconds[s.Unix] = m
			}
			m.Sent += s.Sent
			m.Failed += s.Failed
			addCounts(m.Replies, s.Replies)
			if err := mergeHists(m.Histograms, s.Histograms, SeriesBits); err != nil {
				return nil, err
			}
		}
	}
	out.Elapsed = end.Sub(out.Start)
	for _, s := range seconds {
		s.fill()
		out.Series = append(out.Series, *s)
	}
	sort.Slice(out.Series, func(i, j int) bool { return out.Series[i].Unix < out.Series[j].Unix })
	out.fill()
	return out, nil
}

func addCounts(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

func mergeHists(dst, src map[string]*Hist, bits uint8) error {
	for name, h := range src {
		if dst[name] == nil {
			dst[name] = NewHist(bits)
		}
		if err := dst[name].Merge(h); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	return nil
}
