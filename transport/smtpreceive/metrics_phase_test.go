package smtpreceive

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/exlab/exlab/config"
)

// TestPhaseHistogram: a phase lands in the first bucket whose bound is ≥ its duration (le), and
// Produce reports counts, sum and attributes as the SDK's histogram did.
func TestPhaseHistogram(t *testing.T) {
	x := NewMetrics()
	rc := &config.ReceiveConnector{Name: "Default EX01", Server: "EX01", TransportRole: config.HubTransport}
	for _, tc := range []struct {
		d      time.Duration
		bucket int
	}{
		{50 * time.Microsecond, 0}, {100 * time.Microsecond, 0}, {101 * time.Microsecond, 1}, {time.Millisecond, 3},
		{30 * time.Second, 16}, {31 * time.Second, 17}, {0, 0},
	} {
		before := x.cell(rc, "data")
		x.Phase(rc, "data", tc.d)
		after := x.cell(rc, "data")
		for i := range after {
			want := before[i]
			if i == tc.bucket {
				want++
			}
			if after[i] != want {
				t.Errorf("%v: bucket %d has %d, want %d", tc.d, i, after[i], want)
			}
		}
	}
	sm, err := x.Produce(context.Background())
	if err != nil || len(sm) != 1 || len(sm[0].Metrics) != 1 {
		t.Fatalf("Produce: %v %+v", err, sm)
	}
	h := sm[0].Metrics[0].Data.(metricdata.Histogram[float64])
	dp := h.DataPoints[0]
	if dp.Count != 7 || len(dp.BucketCounts) != len(phaseBounds)+1 || dp.Sum < 61.0 || dp.Sum > 61.01 {
		t.Errorf("data point %+v", dp)
	}
	if v, ok := dp.Attributes.Value("phase"); !ok || v.AsString() != "data" {
		t.Errorf("attributes %v", dp.Attributes)
	}
}

// cell is the bucket counts of one connector's phase, for tests.
func (x *Metrics) cell(rc *config.ReceiveConnector, phase string) []uint64 {
	out := make([]uint64, len(phaseBounds)+1)
	if v, ok := x.phases.Load(setKey{'p', rc, phase, 0}); ok {
		for i := range out {
			out[i] = v.(*phaseCell).counts[i].Load()
		}
	}
	return out
}
