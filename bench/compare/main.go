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
	"net/http"
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

func main() {
	exlabBin := flag.String("exlab", "bin/exlab", "the exlab binary")
	out := flag.String("out", "bench/RESULTS.md", "where to write the results")
	repeat := flag.Int("repeat", 3, "runs per point and target (the median is reported)")
	dur := flag.Duration("duration", 3*time.Second, "length of each run")
	skipPostfix := flag.Bool("no-postfix", false, "measure exlab only")
	baseline := flag.String("baseline", "", "a second exlab binary (an earlier build) measured at every point, alternating with -exlab, for an A/B")
	flag.Parse()
	if err := run(*exlabBin, *baseline, *out, *repeat, *dur, *skipPostfix); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(exlabBin, baselineBin, out string, repeat int, dur time.Duration, skipPostfix bool) error {
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
		pf, sink, stop, err := startPostfix(tmp)
		if err != nil {
			notes = append(notes, "Postfix not measured: "+err.Error())
			fmt.Fprintln(os.Stderr, "bench: Postfix not measured:", err)
		} else {
			cleanups = append(cleanups, stop)
			targets = append(targets, target{"Postfix (durable queue, discard)", pfAddr, pf}, target{"smtp-sink (no storage)", sinkAddr, sink})
		}
	}

	results := map[string]map[string][]measure{} // point → target → runs
	for _, p := range points {
		results[p.Name] = map[string][]measure{}
		for r := 0; r < repeat; r++ {
			for _, t := range targets {
				m, err := load(t, p, dur)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", t.Name, p.Name, err)
				}
				results[p.Name][t.Name] = append(results[p.Name][t.Name], m)
				fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  p99 %7.2f ms  cpu %6.0f ms/1000\n",
					p.Name, t.Name, r+1, m.Rate, ms(m.P99), m.CPUMs)
			}
		}
	}
	med := func(pn, tn string) measure { return median(results[pn][tn]) }

	// The cost of the logs (issue 7): the frontend path at 20 sessions with Default Frontend's
	// protocol log and the tracking log (the default) against an exlab with both off.
	quiet, err := startExlabWith(exlabBin, tmp, "exlab-quiet", offset+1000, true, nil)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { quiet.Process.Signal(syscall.SIGTERM); quiet.Wait() })
	quietT := target{"exlab frontend, logs off", fmt.Sprintf("127.0.0.1:%d", 25+offset+1000), procCPU(quiet.Process.Pid)}
	// And the cost of tracing: an exlab exporting every span with OTLP/HTTP to a collector
	// that discards them (tracing is off in every other run: no OTEL_* variables).
	collector := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go collector.Serve(cl)
	cleanups = append(cleanups, func() { collector.Close() })
	traced, err := startExlabWith(exlabBin, tmp, "exlab-traced", offset+2000, false, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + cl.Addr().String()})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { traced.Process.Signal(syscall.SIGTERM); traced.Wait() })
	tracedT := target{"exlab frontend, tracing on", fmt.Sprintf("127.0.0.1:%d", 25+offset+2000), procCPU(traced.Process.Pid)}
	var logsOn, logsOff, tracingOn []measure
	for r := 0; r < repeat; r++ {
		for _, t := range []target{quietT, targets[0], tracedT} {
			m, err := load(t, points[1], dur)
			if err != nil {
				return fmt.Errorf("%s: %w", t.Name, err)
			}
			switch t.Name {
			case quietT.Name:
				logsOff = append(logsOff, m)
			case tracedT.Name:
				tracingOn = append(tracingOn, m)
			default:
				logsOn = append(logsOn, m)
			}
			fmt.Fprintf(os.Stderr, "%-32s %-40s run %d: %8.0f msgs/s  cpu %6.0f ms/1000\n", points[1].Name, t.Name, r+1, m.Rate, m.CPUMs)
		}
	}

	// Latency under a fixed offered load: half of the frontend's own peak (20 sessions).
	peak := med(points[1].Name, targets[0].Name).Rate
	open, err := bench.Run(context.Background(), bench.Options{Target: feAddr, Sessions: 20, PerSession: 20, Size: 1024,
		Rate: peak / 2, Duration: 2 * dur})
	if err != nil {
		return err
	}
	// 10,000 idle sessions held on port 25, new sessions timed meanwhile.
	before := rss(ex.Process.Pid)
	var during int64
	hold, err := bench.Hold(context.Background(), bench.HoldOptions{Target: feAddr, Sessions: 10000, Duration: dur,
		Ready: func(int) { time.Sleep(500 * time.Millisecond); during = rss(ex.Process.Pid) }})
	if err != nil {
		return err
	}

	var b strings.Builder
	machine := machineInfo()
	fmt.Fprintf(&b, "# exlab benchmark results\n\n`make bench` on %s (%s). Load generator, exlab, Postfix and smtp-sink share the machine; loopback only. Each figure is the median of %d runs of %s; the targets alternate within each repetition.\n\n",
		time.Now().UTC().Format("2006-01-02"), machine, repeat, dur)
	for _, n := range notes {
		fmt.Fprintf(&b, "Note: %s\n\n", n)
	}
	fmt.Fprintf(&b, "| point | target | msgs/s | p99 end of data | server CPU s / 1,000 msgs | vs Postfix | vs smtp-sink |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, p := range points {
		pf := med(p.Name, "Postfix (durable queue, discard)")
		sink := med(p.Name, "smtp-sink (no storage)")
		for _, t := range targets {
			m := med(p.Name, t.Name)
			ratio := func(base measure) string {
				if base.Rate == 0 || !strings.HasPrefix(t.Name, "exlab") {
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
	perSession := float64(during-before) / float64(max(hold.Opened, 1))
	fmt.Fprintf(&b, "\nOpen loop: frontend path at %.0f msgs/s offered (half of its peak %.0f), 20 sessions: p99 end of data %.2f ms (p50 %.2f ms), p99 from schedule %.2f ms, %d sent.\n",
		peak/2, peak, ms(open.Latency["data"].P99), ms(open.Latency["data"].P50), ms(open.Latency["sched"].P99), open.Sent)
	on, off, tr := median(logsOn), median(logsOff), median(tracingOn)
	fmt.Fprintf(&b, "\nCost of the logs (%s, frontend path): with Default Frontend's protocol log, the frontend's SmtpSend log of its hops to the hub and the message tracking log (the default) %.0f msgs/s and %.3f s CPU per 1,000 messages; with both off %.0f msgs/s and %.3f s: %+.1f%% messages/s, %+.1f%% CPU per message.\n",
		points[1].Name, on.Rate, on.CPUMs/1000, off.Rate, off.CPUMs/1000, (on.Rate/off.Rate-1)*100, (on.CPUMs/off.CPUMs-1)*100)
	fmt.Fprintf(&b, "\nCost of tracing (same point): off (no OTEL_* variables, every other figure here) %.0f msgs/s and %.3f s CPU per 1,000 messages; every span exported with OTLP/HTTP to a local collector %.0f msgs/s and %.3f s: %+.1f%% messages/s, %+.1f%% CPU per message.\n",
		on.Rate, on.CPUMs/1000, tr.Rate, tr.CPUMs/1000, (tr.Rate/on.Rate-1)*100, (tr.CPUMs/on.CPUMs-1)*100)
	fmt.Fprintf(&b, "\nIdle sessions: %d held on port 25 (%d failed, %d refused); exlab RSS %.1f MiB idle, %.1f MiB with them: %.1f KiB per session. New sessions meanwhile: connect to banner p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d).\n",
		hold.Opened, hold.Failed, hold.Refused, float64(before)/1024, float64(during)/1024, perSession, ms(hold.Probe.P50), ms(hold.Probe.P99), ms(hold.Probe.Max), hold.Probe.N)

	if baselineBin != "" {
		fmt.Fprintf(&b, "\n## A/B against the baseline binary (%s)\n\nBoth servers ran side by side with the same configuration; their runs alternated at every point.\n\n| point | path | msgs/s (this / baseline) | ratio | CPU s per 1,000 msgs (this / baseline) | ratio |\n|---|---|---:|---:|---:|---:|\n", baselineBin)
		for _, p := range points {
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
	fmt.Fprintf(&b, "\n## Targets (issue 3)\n\n| requirement | measured | |\n|---|---|---|\n")
	check := func(name string, ok bool, measured string) {
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, measured, mark)
	}
	if pf(1).Rate > 0 {
		check("frontend, 1 KiB, 20 sessions × 20: ≥ 5× Postfix", fe(1).Rate >= 5*pf(1).Rate, fmt.Sprintf("%.2f×", fe(1).Rate/pf(1).Rate))
		check("frontend, same load: ≥ 0.25× smtp-sink", fe(1).Rate >= 0.25*sink.Rate, fmt.Sprintf("%.2f×", fe(1).Rate/sink.Rate))
		check("hub, same load: ≥ 0.5× smtp-sink", hub.Rate >= 0.5*sink.Rate, fmt.Sprintf("%.2f×", hub.Rate/sink.Rate))
		check("frontend, one message per connection (20 sessions): ≥ 3× Postfix", fe(4).Rate >= 3*pf(4).Rate, fmt.Sprintf("%.2f×", fe(4).Rate/pf(4).Rate))
		check("frontend, 100 KiB (20 sessions): ≥ 3× Postfix", fe(6).Rate >= 3*pf(6).Rate, fmt.Sprintf("%.2f×", fe(6).Rate/pf(6).Rate))
		check("frontend CPU per 1,000 messages ≤ 1/10 of Postfix's", fe(1).CPUMs*10 <= pf(1).CPUMs, fmt.Sprintf("%.3f s vs %.3f s (1/%.1f)", fe(1).CPUMs/1000, pf(1).CPUMs/1000, pf(1).CPUMs/fe(1).CPUMs))
	}
	check("p99 end of data ≤ 20 ms at half of the peak (open loop)", open.Latency["data"].P99 <= 20*time.Millisecond, fmt.Sprintf("%.2f ms", ms(open.Latency["data"].P99)))
	check("10,000 idle sessions: ≤ 16 KiB RSS each", hold.Opened >= 10000 && perSession <= 16, fmt.Sprintf("%d held, %.1f KiB each", hold.Opened, perSession))
	check("new sessions answered in < 100 ms while they are held", hold.Probe.N > 0 && hold.Probe.Max < 100*time.Millisecond, fmt.Sprintf("max %.2f ms", ms(hold.Probe.Max)))
	fmt.Fprintf(&b, "\nEvery exlab 250 above was answered after a synced Pebble commit (the hub's `Submit` uses `pebble.Sync`; concurrent commits share fsyncs). exlab's configuration for the run: the embedded default with `MaxInboundConnectionPerSource: Unlimited`, `MaxInboundConnection: 20000` and `MaxInboundConnectionPercentagePerSource: 100` on Default Frontend (all load comes from one address) and `AnonymousUsers` added to Default EX01 so the load generator can use the hub directly; nothing else changed.\n")

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
	cfg := string(def)
	cfg = strings.ReplaceAll(cfg, "MaxInboundConnectionPerSource: 20\n", "MaxInboundConnectionPerSource: Unlimited\n")
	cfg = strings.Replace(cfg, "  - Name: Default Frontend EX01\n", "  - Name: Default Frontend EX01\n    MaxInboundConnection: 20000\n    MaxInboundConnectionPercentagePerSource: 100\n", 1)
	cfg = strings.Replace(cfg, "PermissionGroups: [ExchangeUsers, ExchangeServers, ExchangeLegacyServers]",
		"PermissionGroups: [AnonymousUsers, ExchangeUsers, ExchangeServers, ExchangeLegacyServers]", 1)
	if quiet {
		cfg = strings.Replace(cfg, "    ProtocolLoggingLevel: Verbose\n", "    ProtocolLoggingLevel: None\n", 1)
		cfg = strings.Replace(cfg, "    BindingConflictMode: Exclusive", "    BindingConflictMode: Exclusive\n    MessageTrackingLogEnabled: false\n    IntraOrgConnectorProtocolLoggingLevel: None", 1)
	}
	path := filepath.Join(tmp, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", path, "--data", filepath.Join(tmp, name+"-data"),
		"--port-offset", strconv.Itoa(off), "--admin", "off", "--log-level", "warn")
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
func startPostfix(tmp string) (pf, sink func() time.Duration, stop func(), err error) {
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
	if err := os.WriteFile(filepath.Join(dir, "conf/main.cf"), []byte(strings.ReplaceAll(mainCF, "{{dir}}", dir)), 0o644); err != nil {
		return nil, nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "conf/master.cf"), []byte(masterCF), 0o644); err != nil {
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
