package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/exlab/exlab/bench"
)

// extrasResult holds the sections measured around the main table: the cost of the logs and
// of tracing, the open-loop latency at half the peak and the idle sessions.
type extrasResult struct {
	logsOn, logsOff, tracingOn []measure
	peak                       float64
	open                       *bench.Result
	hold                       *bench.HoldResult
	before, during             int64 // exlab's RSS in KiB without and with the idle sessions
}

func runExtras(exlabBin, tmp string, ex *exec.Cmd, fe target, med func(pn, tn string) measure, dur time.Duration, repeat int, cleanups *[]func()) (extrasResult, error) {
	var r extrasResult
	// The cost of the logs (issue 7): the frontend path at 20 sessions with Default Frontend's
	// protocol log and the tracking log (the default) against an exlab with both off.
	quiet, err := startExlabWith(exlabBin, tmp, "exlab-quiet", offset+1000, true, nil)
	if err != nil {
		return r, err
	}
	*cleanups = append(*cleanups, func() { quiet.Process.Signal(syscall.SIGTERM); quiet.Wait() })
	quietT := target{"exlab frontend, logs off", fmt.Sprintf("127.0.0.1:%d", 25+offset+1000), procCPU(quiet.Process.Pid)}
	// And the cost of tracing: an exlab exporting every span with OTLP/HTTP to a collector
	// that discards them (tracing is off in every other run: no OTEL_* variables).
	collector := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	go collector.Serve(cl)
	*cleanups = append(*cleanups, func() { collector.Close() })
	traced, err := startExlabWith(exlabBin, tmp, "exlab-traced", offset+2000, false, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + cl.Addr().String()})
	if err != nil {
		return r, err
	}
	*cleanups = append(*cleanups, func() { traced.Process.Signal(syscall.SIGTERM); traced.Wait() })
	tracedT := target{"exlab frontend, tracing on", fmt.Sprintf("127.0.0.1:%d", 25+offset+2000), procCPU(traced.Process.Pid)}
	for i := 0; i < repeat; i++ {
		for _, t := range []target{quietT, fe, tracedT} {
			m, err := load(t, points[1], dur)
			if err != nil {
				return r, fmt.Errorf("%s: %w", t.Name, err)
			}
			switch t.Name {
			case quietT.Name:
				r.logsOff = append(r.logsOff, m)
			case tracedT.Name:
				r.tracingOn = append(r.tracingOn, m)
			default:
				r.logsOn = append(r.logsOn, m)
			}
			fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  cpu %6.0f ms/1000\n", points[1].Name, t.Name, i+1, m.Rate, m.CPUMs)
		}
	}

	// Latency under a fixed offered load: half of the frontend's own peak (20 sessions), from
	// the main table when point 2 was measured, else from the logs-on runs just made.
	r.peak = med(points[1].Name, fe.Name).Rate
	if r.peak == 0 {
		r.peak = median(r.logsOn).Rate
	}
	r.open, err = bench.Run(context.Background(), bench.Options{Target: fe.Addr, Sessions: 20, PerSession: 20, Size: 1024,
		Rate: r.peak / 2, Duration: 2 * dur})
	if err != nil {
		return r, err
	}
	// 10,000 idle sessions held on port 25, new sessions timed meanwhile.
	r.before = rss(ex.Process.Pid)
	r.hold, err = bench.Hold(context.Background(), bench.HoldOptions{Target: fe.Addr, Sessions: 10000, Duration: dur,
		Ready: func(int) { time.Sleep(500 * time.Millisecond); r.during = rss(ex.Process.Pid) }})
	return r, err
}

func (r extrasResult) perSession() float64 {
	return float64(r.during-r.before) / float64(max(r.hold.Opened, 1))
}

// write adds the extras' paragraphs to the report.
func (r extrasResult) write(b *strings.Builder) {
	open, hold := r.open, r.hold
	fmt.Fprintf(b, "\nOpen loop: frontend path at %.0f msgs/s offered (half of its peak %.0f), 20 sessions: p99 end of data %.2f ms (p50 %.2f ms), p99 from schedule %.2f ms, %d sent.\n",
		r.peak/2, r.peak, ms(open.Latency["data"].P99), ms(open.Latency["data"].P50), ms(open.Latency["sched"].P99), open.Sent)
	on, off, tr := median(r.logsOn), median(r.logsOff), median(r.tracingOn)
	fmt.Fprintf(b, "\nCost of the logs (%s, frontend path): with Default Frontend's protocol log, the frontend's SmtpSend log of its hops to the hub and the message tracking log (the default) %.0f msgs/s and %.3f s CPU per 1,000 messages; with both off %.0f msgs/s and %.3f s: %+.1f%% messages/s, %+.1f%% CPU per message.\n",
		points[1].Name, on.Rate, on.CPUMs/1000, off.Rate, off.CPUMs/1000, (on.Rate/off.Rate-1)*100, (on.CPUMs/off.CPUMs-1)*100)
	fmt.Fprintf(b, "\nCost of tracing (same point): off (no OTEL_* variables, every other figure here) %.0f msgs/s and %.3f s CPU per 1,000 messages; every span exported with OTLP/HTTP to a local collector %.0f msgs/s and %.3f s: %+.1f%% messages/s, %+.1f%% CPU per message.\n",
		on.Rate, on.CPUMs/1000, tr.Rate, tr.CPUMs/1000, (tr.Rate/on.Rate-1)*100, (tr.CPUMs/on.CPUMs-1)*100)
	fmt.Fprintf(b, "\nIdle sessions: %d held on port 25 (%d failed, %d refused); exlab RSS %.1f MiB idle, %.1f MiB with them: %.1f KiB per session. New sessions meanwhile: connect to banner p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d).\n",
		hold.Opened, hold.Failed, hold.Refused, float64(r.before)/1024, float64(r.during)/1024, r.perSession(), ms(hold.Probe.P50), ms(hold.Probe.P99), ms(hold.Probe.Max), hold.Probe.N)
}

// checks adds the extras' rows to the targets table.
func (r extrasResult) checks(check func(name string, ok bool, measured string)) {
	open, hold := r.open, r.hold
	check("p99 end of data ≤ 20 ms at half of the peak (open loop)", open.Latency["data"].P99 <= 20*time.Millisecond, fmt.Sprintf("%.2f ms", ms(open.Latency["data"].P99)))
	check("10,000 idle sessions: ≤ 16 KiB RSS each", hold.Opened >= 10000 && r.perSession() <= 16, fmt.Sprintf("%d held, %.1f KiB each", hold.Opened, r.perSession()))
	check("new sessions answered in < 100 ms while they are held", hold.Probe.N > 0 && hold.Probe.Max < 100*time.Millisecond, fmt.Sprintf("max %.2f ms", ms(hold.Probe.Max)))
}
