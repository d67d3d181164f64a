package main

import (
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// smtpSourceBin is Postfix's load generator (package postfix), the second opinion next to
// bench.Run (issue 14 point 4: both load generators are run and agree within 15%).
const smtpSourceBin = "/usr/sbin/smtp-source"

// agreeWithin is how far the two load generators may differ at a point.
const agreeWithin = 0.15

// smtpSourceArgs are smtp-source's options for one point and n messages in all. smtp-source has
// no duration: the caller sizes n from a rate it measured with bench.Run. It has no "k messages
// per connection" either: -d keeps each session open for all its messages, so a point with
// PerSession > 1 is run as "many per connection" and one with PerSession 1 as a connection per
// message. -c prints the running count that smtpSourceCount reads.
func smtpSourceArgs(addr string, p point, n int, from, to string) []string {
	args := []string{"-c", "-s", strconv.Itoa(p.Sessions), "-m", strconv.Itoa(n), "-l", strconv.Itoa(p.Size),
		"-f", from, "-t", to, "-M", "bench.test"}
	if p.PerSession > 1 {
		args = append(args, "-d")
	}
	return append(args, addr)
}

// smtpSourceCount reads the count of messages smtp-source finished from its -c output: the
// counter is rewritten in place ("1\r2\r…50\r\n"), so the last number is the total.
func smtpSourceCount(out []byte) (int, error) {
	fields := strings.FieldsFunc(string(out), func(r rune) bool { return r == '\r' || r == '\n' || r == ' ' })
	if len(fields) == 0 {
		return 0, fmt.Errorf("smtp-source printed no count")
	}
	n, err := strconv.Atoi(fields[len(fields)-1])
	if err != nil {
		return 0, fmt.Errorf("smtp-source's count %q: %w", fields[len(fields)-1], err)
	}
	return n, nil
}

// messagesFor sizes smtp-source's -m so that a run at rate lasts about dur: at least 10
// messages per session so that every session sends something.
func messagesFor(rate float64, dur time.Duration, sessions int) int {
	n := int(math.Round(rate * dur.Seconds()))
	return max(n, 10*sessions)
}

// agree says whether two rates are within agreeWithin of each other, measured against the larger.
func agree(a, b float64) (bool, float64) {
	hi := math.Max(a, b)
	if hi == 0 {
		return false, 0
	}
	d := math.Abs(a-b) / hi
	return d <= agreeWithin, d
}

// loadSmtpSource runs smtp-source against t at p with n messages, timed from start to exit, and
// reads the server's CPU the same way load does.
func loadSmtpSource(t target, p point, n int) (measure, error) {
	c0 := t.cpu()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(smtpSourceBin, smtpSourceArgs(t.Addr, p, n, "bench@bench.test", "user1@contoso.test")...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return measure{}, fmt.Errorf("smtp-source: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	sent, err := smtpSourceCount(stdout.Bytes())
	if err != nil {
		return measure{}, err
	}
	c1 := settle(t.cpu)
	m := measure{Rate: float64(sent) / elapsed.Seconds(), Failed: int64(n - sent)}
	if sent > 0 {
		m.CPUMs = float64((c1 - c0).Milliseconds()) / float64(sent) * 1000
	}
	return m, nil
}

// sourceAgreement is one target at one main point measured by both load generators.
type sourceAgreement struct {
	Point, Target string
	Bench, Source measure
	OK            bool
	Delta         float64
}

func haveSmtpSource() bool {
	_, err := exec.LookPath(smtpSourceBin)
	return err == nil
}

// agreements pairs exlab bench's and smtp-source's medians at every selected main point and
// target; nothing when smtp-source did not run.
func agreements(selected []point, targets []target, bench, source func(pn, tn string) measure) []sourceAgreement {
	var out []sourceAgreement
	for _, p := range selected {
		if !isMainPoint(p) {
			continue
		}
		for _, t := range targets {
			bm, sm := bench(p.Name, t.Name), source(p.Name, t.Name)
			if sm.Rate == 0 && sm.Failed == 0 {
				continue
			}
			ok, d := agree(bm.Rate, sm.Rate)
			out = append(out, sourceAgreement{Point: p.Name, Target: t.Name, Bench: bm, Source: sm, OK: ok, Delta: d})
		}
	}
	return out
}

func isMainPoint(p point) bool {
	for _, i := range mainPoints {
		if points[i].Name == p.Name {
			return true
		}
	}
	return false
}

// writeAgreement is the report's table of the two load generators.
func writeAgreement(b *strings.Builder, rows []sourceAgreement) {
	if len(rows) == 0 {
		fmt.Fprintf(b, "\nsmtp-source was not run (not installed at %s, or no main point selected).\n", smtpSourceBin)
		return
	}
	fmt.Fprintf(b, "\n## Both load generators\n\nThe main points loaded with Postfix's `smtp-source` as well (`-d` for many per connection: each session sends all its messages on one connection; -m sized from exlab bench's rate for about one run's length; timed from start to exit; each smtp-source run follows the exlab bench run of the same target and point, medians compared). They agree when they differ by at most %.0f%% of the larger rate.\n\n| point | target | exlab bench msgs/s | smtp-source msgs/s | difference | server CPU s / 1,000 msgs (bench / smtp-source) | agree |\n|---|---|---:|---:|---:|---:|---|\n", agreeWithin*100)
	for _, r := range rows {
		mark := "yes"
		if !r.OK {
			mark = "**no**"
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %.0f | %.1f%% | %.3f / %.3f | %s |\n", r.Point, r.Target, r.Bench.Rate, r.Source.Rate, r.Delta*100, r.Bench.CPUMs/1000, r.Source.CPUMs/1000, mark)
	}
}
