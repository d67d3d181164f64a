package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Ramp is a stepped open-loop load: Start msgs/s, then Step more every Hold, up to Max.
type Ramp struct {
	Start, Step, Max float64
	Hold             time.Duration
}

// ParseRamp reads START:STEP:MAX[:HOLD] (rates in msgs/s, HOLD a duration, default 5s).
func ParseRamp(s string) (Ramp, error) {
	parts := strings.Split(s, ":")
	r := Ramp{Hold: 5 * time.Second}
	if len(parts) < 3 || len(parts) > 4 {
		return r, fmt.Errorf("%q: want START:STEP:MAX[:HOLD], e.g. 100:100:1000:5s", s)
	}
	var err error
	for i, dst := range []*float64{&r.Start, &r.Step, &r.Max} {
		if *dst, err = strconv.ParseFloat(parts[i], 64); err != nil || *dst <= 0 {
			return r, fmt.Errorf("%q: %q is not a positive rate", s, parts[i])
		}
	}
	if len(parts) == 4 {
		if r.Hold, err = time.ParseDuration(parts[3]); err != nil || r.Hold <= 0 {
			return r, fmt.Errorf("%q: %q is not a positive duration", s, parts[3])
		}
	}
	if r.Max < r.Start {
		return r, fmt.Errorf("%q: MAX is below START", s)
	}
	return r, nil
}

// RampStep is one step of a ramp.
type RampStep struct {
	Rate   float64 // offered, msgs/s
	Result *Result
	OK     bool // no failure and p99 under the bound
}

// RampResult is a whole ramp; Knee is the index of the last step that held (-1: none did).
type RampResult struct {
	Bound time.Duration
	Steps []RampStep
	Knee  int
}

// KneePhase is the latency the ramp bounds: from the time the open-loop schedule wanted a
// message sent to its final reply after the end of data, so waiting for a free session
// counts (no coordinated omission).
const KneePhase = "sched"

// RunRamp runs o at each rate of r for r.Hold and stops after the first step whose p99 passes
// bound or that had a failure: the knee is the step before it.
func RunRamp(ctx context.Context, o Options, r Ramp, bound time.Duration, progress io.Writer) (*RampResult, error) {
	out := &RampResult{Bound: bound, Knee: -1}
	for rate := r.Start; rate <= r.Max+1e-9 && ctx.Err() == nil; rate += r.Step {
		step := o
		step.Rate, step.Duration, step.Messages = rate, r.Hold, 0
		res, err := Run(ctx, step)
		if err != nil {
			return nil, err
		}
		p99 := res.Latency[KneePhase].P99
		ok := res.Failed == 0 && res.Sent > 0 && p99 < bound
		out.Steps = append(out.Steps, RampStep{Rate: rate, Result: res, OK: ok})
		if progress != nil {
			out.printStep(progress, len(out.Steps)-1)
		}
		if !ok {
			break
		}
		out.Knee = len(out.Steps) - 1
	}
	return out, nil
}

func (rr *RampResult) printStep(w io.Writer, i int) {
	s := rr.Steps[i]
	l := s.Result.Latency[KneePhase]
	verdict := "ok"
	if !s.OK {
		verdict = "over"
	}
	fmt.Fprintf(w, "%10.1f %10.1f %8d %8d %10s %10s  %s\n", s.Rate, s.Result.Rate(), s.Result.Sent, s.Result.Failed, round(l.P50), round(l.P99), verdict)
}

// PrintRampHeader writes the header of the table of steps RunRamp prints as it goes.
func PrintRampHeader(w io.Writer, bound time.Duration) {
	fmt.Fprintf(w, "%10s %10s %8s %8s %10s %10s  p99 < %s\n", "offered/s", "msgs/s", "sent", "failed", "p50", "p99", bound)
}

// Print writes the table of steps and the knee.
func (rr *RampResult) Print(w io.Writer) {
	PrintRampHeader(w, rr.Bound)
	for i := range rr.Steps {
		rr.printStep(w, i)
	}
	rr.PrintKnee(w)
}

// PrintKnee writes the ramp's verdict.
func (rr *RampResult) PrintKnee(w io.Writer) {
	if rr.Knee < 0 {
		fmt.Fprintf(w, "knee: none, the first step already failed or passed p99 %s\n", rr.Bound)
		return
	}
	k := rr.Steps[rr.Knee]
	fmt.Fprintf(w, "knee: %.1f msgs/s offered (%.1f achieved, p99 %s)\n", k.Rate, k.Result.Rate(), round(k.Result.Latency[KneePhase].P99))
}
