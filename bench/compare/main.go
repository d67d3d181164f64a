// Command compare is `make bench`: it starts exlab as its own process on a fresh data
// directory, Postfix on a private configuration (durable accept into its queue, delivery to the
// discard transport) and Postfix's smtp-sink (no storage), all on loopback ports, and loads each
// in turn with the bench package: the same client, the same points, alternating targets,
// repeated, median taken. It prints one table and writes bench/RESULTS.md. It installs Postfix
// with apt when it is missing and it runs as root; it touches no system-wide mail
// configuration (Postfix is installed with "No configuration" and run with `postfix -c DIR`).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/exlab/exlab/bench"
)

const (
	offset   = 20000 // keeps every port below the ephemeral range (32768-60999)
	feAddr   = "127.0.0.1:20025"
	hubAddr  = "127.0.0.1:22525"
	pfAddr   = "127.0.0.1:20026"
	sinkAddr = "127.0.0.1:20027"
	// floorAddr is the floor server's (floor.go).
	floorAddr = "127.0.0.1:20030"
)

type point struct {
	Name       string
	Size       int
	Sessions   int
	PerSession int
}

var points = []point{
	{"1 KiB, 1 session, 20/conn", 1024, 1, 20},
	{"1 KiB, 20 sessions, 20/conn", 1024, 20, 20},
	{"1 KiB, 100 sessions, 20/conn", 1024, 100, 20},
	{"1 KiB, 1 session, 1/conn", 1024, 1, 1},
	{"1 KiB, 20 sessions, 1/conn", 1024, 20, 1},
	{"1 KiB, 100 sessions, 1/conn", 1024, 100, 1},
	{"100 KiB, 20 sessions, 20/conn", 100 << 10, 20, 20},
}

// target is one server under test; cpu returns its CPU time so far (its process tree).
type target struct {
	Name string
	Addr string
	cpu  func() time.Duration
}

type measure struct {
	Rate   float64
	P99    time.Duration
	CPUMs  float64 // server CPU milliseconds per 1,000 messages
	Failed int64
}

// options are compare's flags.
type options struct {
	Exlab       string
	Out         string
	Repeat      int
	Duration    time.Duration
	SkipPostfix bool
	Baseline    string // a binary path or a git ref; empty: no A/B
	Points      []int  // indices into points that are measured
	Extras      bool   // the logs, tracing, open-loop and idle-session sections
	SmtpSource  bool   // smtp-source as a second load generator at the main points
	Sustained   time.Duration
	Submission  bool // the 587 path against Postfix's submission service
	Floor       bool // the floor target (floor.go)
	// ServeFloor and FloorDir: this process is the floor server (compare starts it so).
	ServeFloor, FloorDir string
}

// mainPoints are the points where both load generators run (issue 14 point 4): 1 KiB at 20
// sessions, many per connection and one per connection.
var mainPoints = []int{1, 4}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.Exlab, "exlab", "bin/exlab", "the exlab binary")
	fs.StringVar(&o.Out, "out", "bench/RESULTS.md", "where to write the results")
	fs.IntVar(&o.Repeat, "repeat", 3, "runs per point and target (the median is reported)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Second, "length of each run")
	fs.BoolVar(&o.SkipPostfix, "no-postfix", false, "measure exlab only")
	fs.StringVar(&o.Baseline, "baseline", "", "an earlier exlab measured at every point, alternating with -exlab, for an A/B: a binary, or a git ref (built from the repository in the current directory)")
	sel := fs.String("points", "all", "the points to measure: all, main (1 KiB at 20 sessions) or a comma list of their numbers (1-based, as listed in -h)")
	fs.BoolVar(&o.Extras, "extras", true, "also measure the cost of logs and tracing, the open-loop latency and the idle sessions")
	fs.BoolVar(&o.SmtpSource, "smtp-source", true, "also load the main points with Postfix's smtp-source and report whether it agrees with exlab bench")
	fs.DurationVar(&o.Sustained, "sustained", 0, "run the frontend path this long at 80% of its peak (with all recipients known, then 20% unknown); 0 skips it")
	fs.BoolVar(&o.Submission, "submission", true, "measure the 587 path (STARTTLS + AUTH LOGIN) against Postfix's submission service")
	fs.BoolVar(&o.Floor, "floor", true, "also measure the floor: a minimal Go SMTP receiver that answers with short fixed replies, as smtp-sink does, and commits each message to Pebble with Sync, nothing else")
	fs.StringVar(&o.ServeFloor, "serve-floor", "", "be the floor server on this address (compare starts it itself)")
	fs.StringVar(&o.FloorDir, "floor-dir", "", "the floor server's Pebble directory")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: compare [flags]\n\npoints:")
		for i, p := range points {
			fmt.Fprintf(fs.Output(), "  %d  %s\n", i+1, p.Name)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Repeat < 1 {
		return o, fmt.Errorf("-repeat %d: at least 1", o.Repeat)
	}
	var err error
	if o.Points, err = parsePoints(*sel, len(points)); err != nil {
		return o, err
	}
	return o, nil
}

// parsePoints reads -points.
func parsePoints(s string, n int) ([]int, error) {
	switch s {
	case "all", "":
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	case "main":
		return append([]int(nil), mainPoints...), nil
	}
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 1 || i > n {
			return nil, fmt.Errorf("-points: %q is not a point number 1-%d", f, n)
		}
		if !seen[i-1] {
			seen[i-1] = true
			out = append(out, i-1)
		}
	}
	sort.Ints(out)
	return out, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.ServeFloor != "" { // serves until killed; it returns only when it cannot go on
		fmt.Fprintln(os.Stderr, "bench: floor:", serveFloor(o.ServeFloor, o.FloorDir))
		os.Exit(1)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	exlabBin, out, repeat, dur, skipPostfix := o.Exlab, o.Out, o.Repeat, o.Duration, o.SkipPostfix
	tmp, err := os.MkdirTemp("", "exlab-bench")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // Postfix's daemons run as postfix
		return err
	}
	defer os.RemoveAll(tmp)
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	var base baseline
	if o.Baseline != "" {
		fmt.Fprintf(os.Stderr, "bench: building the baseline %s\n", o.Baseline)
		if base, err = resolveBaseline(".", o.Baseline, tmp); err != nil {
			return err
		}
	}
	baselineBin := base.Bin
	selected := make([]point, 0, len(o.Points))
	for _, i := range o.Points {
		selected = append(selected, points[i])
	}

	ex, err := startExlab(exlabBin, tmp)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { ex.Process.Signal(syscall.SIGTERM); ex.Wait() })
	targets := []target{
		{"exlab frontend (25 → 2525 → Pebble)", feAddr, procCPU(ex.Process.Pid)},
		{"exlab hub (2525 → Pebble)", hubAddr, procCPU(ex.Process.Pid)},
	}
	notes := []string{}
	var pfCPU func() time.Duration // Postfix's CPU, when it runs
	const (
		baseFE  = "baseline exlab frontend"
		baseHub = "baseline exlab hub"
	)
	if baselineBin != "" {
		bx, err := startExlabWith(baselineBin, tmp, "exlab-baseline", offset+3000, false, nil)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { bx.Process.Signal(syscall.SIGTERM); bx.Wait() })
		targets = append(targets, target{baseFE, fmt.Sprintf("127.0.0.1:%d", 25+offset+3000), procCPU(bx.Process.Pid)},
			target{baseHub, fmt.Sprintf("127.0.0.1:%d", 2525+offset+3000), procCPU(bx.Process.Pid)})
	}
	if !skipPostfix {
		pf, sink, stop, err := startPostfix(tmp, o.Submission)
		if err != nil {
			notes = append(notes, "Postfix not measured: "+err.Error())
			fmt.Fprintln(os.Stderr, "bench: Postfix not measured:", err)
		} else {
			cleanups = append(cleanups, stop)
			targets = append(targets, target{"Postfix (durable queue, discard)", pfAddr, pf}, target{"smtp-sink (no storage)", sinkAddr, sink})
			pfCPU = pf
		}
	}

	if o.Floor {
		fl, err := startFloor(floorAddr, filepath.Join(tmp, "floor-data"))
		if err != nil {
			return fmt.Errorf("the floor server: %w", err)
		}
		cleanups = append(cleanups, func() { _ = fl.Process.Kill(); _ = fl.Wait() })
		targets = append(targets, target{floorName, floorAddr, procCPU(fl.Process.Pid)})
	}

	results := map[string]map[string][]measure{}    // point → target → runs
	sourceRuns := map[string]map[string][]measure{} // the same, loaded with smtp-source
	for _, p := range selected {
		results[p.Name] = map[string][]measure{}
		sourceRuns[p.Name] = map[string][]measure{}
		for r := 0; r < repeat; r++ {
			for _, t := range targets {
				m, err := load(t, p, dur)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", t.Name, p.Name, err)
				}
				results[p.Name][t.Name] = append(results[p.Name][t.Name], m)
				fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  p99 %7.2f ms  cpu %6.0f ms/1000\n",
					p.Name, t.Name, r+1, m.Rate, ms(m.P99), m.CPUMs)
				// smtp-source right after exlab bench on the same target and point, so that
				// both see the same server state (queue, caches) and the same machine noise.
				if o.SmtpSource && haveSmtpSource() && isMainPoint(p) {
					sm, err := loadSmtpSource(t, p, messagesFor(m.Rate, dur, p.Sessions))
					if err != nil {
						return fmt.Errorf("%s, %s: %w", t.Name, p.Name, err)
					}
					sourceRuns[p.Name][t.Name] = append(sourceRuns[p.Name][t.Name], sm)
					fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  smtp-source  cpu %6.0f ms/1000\n", p.Name, t.Name, r+1, sm.Rate, sm.CPUMs)
				}
			}
		}
	}
	med := func(pn, tn string) measure { return median(results[pn][tn]) }

	var ex2 extrasResult
	if o.Extras {
		if ex2, err = runExtras(exlabBin, tmp, ex, targets[0], med, dur, repeat, &cleanups); err != nil {
			return err
		}
	}
	var subNames []string
	subRes := map[string]map[string][]subMeasure{}
	if o.Submission && pfCPU != nil {
		subTargets := []target{{subExlabName, subAddr, procCPU(ex.Process.Pid)}, {subPostfixName, pfSubAddr, pfCPU}}
		for _, t := range subTargets {
			subNames = append(subNames, t.Name)
		}
		for _, p := range subPoints {
			subRes[p.Name] = map[string][]subMeasure{}
			for r := 0; r < repeat; r++ {
				for _, t := range subTargets {
					m := loadSubmission(t, p, dur)
					subRes[p.Name][t.Name] = append(subRes[p.Name][t.Name], m)
					fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  %6.0f handshakes/s  cpu %6.0f ms/1000 %s\n", p.Name, t.Name, r+1, m.Rate, m.Sessions, m.CPUMs, m.Err)
				}
			}
		}
	}
	var susPeak float64
	var sustained []sustainedResult
	if o.Sustained > 0 {
		if susPeak, sustained, err = runSustained(exlabBin, tmp, dur, o.Sustained); err != nil {
			return fmt.Errorf("sustained: %w", err)
		}
	}
	var agreement []sourceAgreement
	if o.SmtpSource {
		agreement = agreements(selected, targets, med, func(pn, tn string) measure { return median(sourceRuns[pn][tn]) })
	}

	var b strings.Builder
	machine := machineInfo()
	fmt.Fprintf(&b, "# exlab benchmark results\n\n`make bench` on %s (%s). Load generator, exlab, Postfix and smtp-sink share the machine; loopback only. Each figure is the median of %d runs of %s; the targets alternate within each repetition.\n\n",
		time.Now().UTC().Format("2006-01-02"), machine, repeat, dur)
	for _, n := range notes {
		fmt.Fprintf(&b, "Note: %s\n\n", n)
	}
	fmt.Fprintf(&b, "| point | target | msgs/s | p99 end of data | server CPU s / 1,000 msgs | vs Postfix | vs smtp-sink |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, p := range selected {
		pf := med(p.Name, "Postfix (durable queue, discard)")
		sink := med(p.Name, "smtp-sink (no storage)")
		for _, t := range targets {
			m := med(p.Name, t.Name)
			ratio := func(base measure) string {
				if base.Rate == 0 || !strings.HasPrefix(t.Name, "exlab") && t.Name != floorName {
					return ""
				}
				return fmt.Sprintf("%.2f×", m.Rate/base.Rate)
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f ms | %.3f | %s | %s |\n", p.Name, t.Name, m.Rate, ms(m.P99), m.CPUMs/1000, ratio(pf), ratio(sink))
		}
	}
	fe := func(i int) measure { return med(points[i].Name, targets[0].Name) }
	hub := med(points[1].Name, targets[1].Name)
	pf := func(i int) measure { return med(points[i].Name, "Postfix (durable queue, discard)") }
	sink := med(points[1].Name, "smtp-sink (no storage)")
	if o.Floor {
		writeFloor(&b, selected, targets, med)
	}
	if o.Extras {
		ex2.write(&b)
	}
	if o.SmtpSource {
		writeAgreement(&b, agreement)
	}

	if o.Sustained > 0 {
		writeSustained(&b, o.Sustained, susPeak, sustained)
	}
	if len(subNames) > 0 {
		writeSubmission(&b, subNames, subRes)
	}

	if baselineBin != "" {
		fmt.Fprintf(&b, "\n## A/B against the baseline: %s\n\nBoth servers ran side by side with the same configuration; their runs alternated at every point.\n\n| point | path | msgs/s (this / baseline) | ratio | CPU s per 1,000 msgs (this / baseline) | ratio |\n|---|---|---:|---:|---:|---:|\n", base)
		for _, p := range selected {
			for _, pair := range [][2]string{{targets[0].Name, baseFE}, {targets[1].Name, baseHub}} {
				a, z := med(p.Name, pair[0]), med(p.Name, pair[1])
				if z.Rate == 0 {
					continue
				}
				path := "frontend"
				if pair[1] == baseHub {
					path = "hub"
				}
				fmt.Fprintf(&b, "| %s | %s | %.0f / %.0f | %.2f | %.3f / %.3f | %.2f |\n", p.Name, path, a.Rate, z.Rate, a.Rate/z.Rate, a.CPUMs/1000, z.CPUMs/1000, a.CPUMs/max(z.CPUMs, 1e-9))
			}
		}
	}
	fmt.Fprintf(&b, "\n## Targets (issues 3 and 14)\n\n| requirement | measured | |\n|---|---|---|\n")
	check := func(name string, ok bool, measured string) {
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, measured, mark)
	}
	if pf(1).Rate > 0 && fe(1).Rate > 0 && fe(4).Rate > 0 && fe(6).Rate > 0 {
		check("frontend, 1 KiB, 20 sessions × 20: ≥ 5× Postfix", fe(1).Rate >= 5*pf(1).Rate, fmt.Sprintf("%.2f×", fe(1).Rate/pf(1).Rate))
		check("frontend, same load: ≥ 0.25× smtp-sink", fe(1).Rate >= 0.25*sink.Rate, fmt.Sprintf("%.2f×", fe(1).Rate/sink.Rate))
		check("hub, same load: ≥ 0.5× smtp-sink", hub.Rate >= 0.5*sink.Rate, fmt.Sprintf("%.2f×", hub.Rate/sink.Rate))
		check("frontend, one message per connection (20 sessions): ≥ 3× Postfix", fe(4).Rate >= 3*pf(4).Rate, fmt.Sprintf("%.2f×", fe(4).Rate/pf(4).Rate))
		check("frontend, 100 KiB (20 sessions): ≥ 3× Postfix", fe(6).Rate >= 3*pf(6).Rate, fmt.Sprintf("%.2f×", fe(6).Rate/pf(6).Rate))
		check("frontend CPU per 1,000 messages ≤ 1/10 of Postfix's", fe(1).CPUMs*10 <= pf(1).CPUMs, fmt.Sprintf("%.3f s vs %.3f s (1/%.1f)", fe(1).CPUMs/1000, pf(1).CPUMs/1000, pf(1).CPUMs/fe(1).CPUMs))
	}
	if o.Extras {
		ex2.checks(check)
	}
	issue14Checks(&b, check, issue14{fe: fe, hub: hub, pf: pf, sinkAt: func(i int) measure { return med(points[i].Name, "smtp-sink (no storage)") },
		sub: subMedians(subNames, subRes), agreement: agreement, sustained: sustained})
	fmt.Fprintf(&b, "\nEvery exlab 250 above was answered after a synced Pebble commit (the hub's `Submit` uses `pebble.Sync`; concurrent commits share fsyncs). exlab's configuration for the run: the embedded default with `MaxInboundConnectionPerSource: Unlimited`, `MaxInboundConnection: 20000` and `MaxInboundConnectionPercentagePerSource: 100` on Default Frontend (all load comes from one address), `AnonymousUsers` added to Default EX01 so the load generator can use the hub directly, and `MessageRateLimit: Unlimited` on Client Frontend and Client Proxy (their default of 5 a minute per user would stop the 587 runs); nothing else changed.\n")

	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ms []measure) measure {
	if len(ms) == 0 {
		return measure{}
	}
	s := append([]measure(nil), ms...)
	sort.Slice(s, func(i, j int) bool { return s[i].Rate < s[j].Rate })
	return s[len(s)/2]
}

// load runs one point against one target, then waits for the server to finish what it queued
// (delivery counts as the server's work too) before reading its CPU time.
func load(t target, p point, dur time.Duration) (measure, error) {
	c0 := t.cpu()
	res, err := bench.Run(context.Background(), bench.Options{Target: t.Addr, Sessions: p.Sessions, PerSession: p.PerSession,
		Size: p.Size, Duration: dur, Timeout: 30 * time.Second})
	if err != nil {
		return measure{}, err
	}
	c1 := settle(t.cpu)
	m := measure{Rate: res.Rate(), P99: res.Latency["data"].P99, Failed: res.Failed}
	if res.Sent > 0 {
		m.CPUMs = float64((c1 - c0).Milliseconds()) / float64(res.Sent) * 1000
	}
	return m, nil
}

// settle waits until the CPU time stops growing (at most 10 s) and returns it.
func settle(cpu func() time.Duration) time.Duration {
	last := cpu()
	for i := 0; i < 50; i++ {
		time.Sleep(200 * time.Millisecond)
		now := cpu()
		if now-last < 20*time.Millisecond {
			return now
		}
		last = now
	}
	return last
}

var clkTck = 100.0 // USER_HZ on Linux

// procCPU returns the CPU time of pid and of its children, live and reaped.
func procCPU(pid int) func() time.Duration {
	return func() time.Duration {
		total := statTicks(pid, true)
		for _, c := range children(pid) {
			total += statTicks(c, true)
		}
		return time.Duration(total / clkTck * float64(time.Second))
	}
}

func statTicks(pid int, withChildren bool) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is f[0]; utime f[11], stime f[12], cutime f[13], cstime f[14].
	var t float64
	for i, idx := range []int{11, 12, 13, 14} {
		if i >= 2 && !withChildren {
			break
		}
		v, _ := strconv.ParseFloat(f[idx], 64)
		t += v
	}
	return t
}

func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func startExlab(bin, tmp string) (*exec.Cmd, error) {
	return startExlabWith(bin, tmp, "exlab", offset, false, nil)
}

// startExlabWith starts an exlab on its own data directory and port offset; quiet turns off
// Default Frontend's protocol log, the intra-org SmtpSend log and the message tracking log (the
// cost-of-logging point).
func startExlabWith(bin, tmp, name string, off int, quiet bool, env []string) (*exec.Cmd, error) {
	def, err := exec.Command(bin, "config", "default").Output()
	if err != nil {
		return nil, fmt.Errorf("%s config default: %w", bin, err)
	}
	return startExlabConfig(bin, tmp, name, off, benchConfig(string(def), quiet), env, "off")
}

// benchConfig is the embedded default with the load settings every run uses (see the
// report's last paragraph and the README's load-testing section).
func benchConfig(cfg string, quiet bool) string {
	cfg = strings.ReplaceAll(cfg, "MaxInboundConnectionPerSource: 20\n", "MaxInboundConnectionPerSource: Unlimited\n")
	// Client Frontend's and Client Proxy's 5 messages a minute per user (Exchange's default)
	// would stop the 587 runs at both hops.
	cfg = strings.ReplaceAll(cfg, "    MessageRateLimit: 5\n", "    MessageRateLimit: Unlimited\n")
	cfg = strings.Replace(cfg, "  - Name: Default Frontend EX01\n", "  - Name: Default Frontend EX01\n    MaxInboundConnection: 20000\n    MaxInboundConnectionPercentagePerSource: 100\n", 1)
	cfg = strings.Replace(cfg, "PermissionGroups: [ExchangeUsers, ExchangeServers, ExchangeLegacyServers]",
		"PermissionGroups: [AnonymousUsers, ExchangeUsers, ExchangeServers, ExchangeLegacyServers]", 1)
	if quiet {
		cfg = strings.Replace(cfg, "    ProtocolLoggingLevel: Verbose\n", "    ProtocolLoggingLevel: None\n", 1)
		cfg = strings.Replace(cfg, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    MessageTrackingLogEnabled: false\n    IntraOrgConnectorProtocolLoggingLevel: None", 1)
	}
	return cfg
}

// startExlabConfig writes cfg and starts exlab serve on it; admin is --admin's value.
func startExlabConfig(bin, tmp, name string, off int, cfg string, env []string, admin string) (*exec.Cmd, error) {
	path := filepath.Join(tmp, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", path, "--data", filepath.Join(tmp, name+"-data"),
		"--port-offset", strconv.Itoa(off), "--admin", admin, "--log-level", "warn")
	cmd.Env = append(os.Environ(), env...)
	logf, _ := os.Create(filepath.Join(tmp, name+".log"))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitPort(fmt.Sprintf("127.0.0.1:%d", 25+off)); err != nil {
		return nil, fmt.Errorf("exlab did not start: %w", err)
	}
	return cmd, waitPort(fmt.Sprintf("127.0.0.1:%d", 2525+off))
}

func waitPort(addr string) error {
	var err error
	for i := 0; i < 100; i++ {
		var c net.Conn
		if c, err = net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

const mainCF = `compatibility_level = 3.6
queue_directory = {{dir}}/queue
data_directory = {{dir}}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.bench.test
mydomain = bench.test
mydestination = contoso.test
local_recipient_maps =
local_transport = discard:
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
maillog_file = {{dir}}/postfix.log
maillog_file_prefixes = {{dir}}
biff = no
`

const masterCF = `127.0.0.1:20026 inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// startPostfix runs Postfix from a private configuration directory and smtp-sink, and returns
// their CPU readers and a stop function.
//
// With submission, Postfix also runs its submission service on pfSubAddr (STARTTLS, Cyrus SASL
// on a private sasldb; see submission.go).
func startPostfix(tmp string, submission bool) (pf, sink func() time.Duration, stop func(), err error) {
	if _, err := exec.LookPath("postfix"); err != nil {
		if os.Geteuid() != 0 {
			return nil, nil, nil, fmt.Errorf("postfix is not installed and installing it needs root")
		}
		if err := installPostfix(); err != nil {
			return nil, nil, nil, err
		}
	}
	if os.Geteuid() != 0 {
		return nil, nil, nil, fmt.Errorf("running Postfix's master needs root")
	}
	dir := filepath.Join(tmp, "postfix")
	for _, d := range []string{"conf", "queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, nil, nil, err
		}
	}
	main, master := strings.ReplaceAll(mainCF, "{{dir}}", dir), masterCF
	if submission {
		if err := writeSubmissionConfig(dir); err != nil {
			return nil, nil, nil, err
		}
		main += submissionMainCF(dir)
		master += submissionMasterCF
	}
	if err := os.WriteFile(filepath.Join(dir, "conf/main.cf"), []byte(main), 0o644); err != nil {
		return nil, nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "conf/master.cf"), []byte(master), 0o644); err != nil {
		return nil, nil, nil, err
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		return nil, nil, nil, fmt.Errorf("chown: %v %s", err, out)
	}
	conf := filepath.Join(dir, "conf")
	if out, err := exec.Command("postfix", "-c", conf, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
		return nil, nil, nil, fmt.Errorf("postfix -c %s start: %v %s %s", conf, err, out, log)
	}
	if err := waitPort(pfAddr); err != nil {
		return nil, nil, nil, fmt.Errorf("postfix did not listen: %w", err)
	}
	pidText, err := os.ReadFile(filepath.Join(dir, "queue/pid/master.pid"))
	if err != nil {
		return nil, nil, nil, err
	}
	masterPid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	sinkArgs := []string{"-c", sinkAddr, "1000"}
	if os.Geteuid() == 0 {
		sinkArgs = append([]string{"-u", "postfix"}, sinkArgs...)
	}
	sc := exec.Command("smtp-sink", sinkArgs...)
	sc.Stdout, sc.Stderr = io.Discard, io.Discard
	if err := sc.Start(); err != nil {
		return nil, nil, nil, err
	}
	if err := waitPort(sinkAddr); err != nil {
		return nil, nil, nil, err
	}
	stop = func() {
		_ = exec.Command("postfix", "-c", conf, "stop").Run()
		_ = sc.Process.Kill()
		_ = sc.Wait()
	}
	return procCPU(masterPid), procCPU(sc.Process.Pid), stop, nil
}

// installPostfix installs Debian's Postfix package without any mail configuration: debconf's
// "No configuration" leaves /etc/postfix/main.cf absent and the service unstarted.
func installPostfix() error {
	sel := exec.Command("debconf-set-selections")
	sel.Stdin = strings.NewReader("postfix postfix/main_mailer_type select No configuration\n")
	if out, err := sel.CombinedOutput(); err != nil {
		return fmt.Errorf("debconf-set-selections: %v %s", err, out)
	}
	install := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "-q", "postfix")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install postfix: %v %s", err, out)
		}
		return nil
	}
	if install() == nil {
		return nil
	}
	if out, err := exec.Command("apt-get", "update", "-q").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v %s", err, out)
	}
	return install()
}

func machineInfo() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores, %s, %s, %s", runtime.NumCPU(), model, kernel, runtime.Version())
}
