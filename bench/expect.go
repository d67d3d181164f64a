package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Expectation is one condition of `exlab bench --expect` on a result: how many replies of a
// kind it should hold. Key is a reply as the histogram shows it, or a prefix of one ("421
// 4.4.2", "250", "5.7.1" is not a prefix: write "550 5.7.1"), a class ("4xx", "5xx", "2xx"), or
// "sent" (messages with a 2xx final reply) or "failed".
type Expectation struct {
	Key string
	Op  string // =, !=, >=, <=, >, <
	N   int64
}

func (e Expectation) String() string { return fmt.Sprintf("%s%s%d", e.Key, e.Op, e.N) }

// ParseExpect reads a comma-separated list of conditions: "250 2.6.0>=10,421 4.4.2=2,5xx=0".
func ParseExpect(s string) ([]Expectation, error) {
	var out []Expectation
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.IndexAny(part, "=!<>")
		if i <= 0 {
			return nil, fmt.Errorf("expectation %q: want KEY OP N, e.g. \"421 4.4.2>=1\"", part)
		}
		key, rest := strings.TrimSpace(part[:i]), part[i:]
		op := ""
		for _, o := range []string{">=", "<=", "!=", "=", ">", "<"} {
			if strings.HasPrefix(rest, o) {
				op = o
				break
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rest[len(op):]), 10, 64)
		if op == "" || err != nil {
			return nil, fmt.Errorf("expectation %q: want KEY OP N with OP one of = != >= <= > <", part)
		}
		out = append(out, Expectation{Key: key, Op: op, N: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no expectation given")
	}
	return out, nil
}

// Count is how many replies of the result match key (see Expectation).
func (r *Result) Count(key string) int64 {
	switch key {
	case "sent":
		return r.Sent
	case "failed":
		return r.Failed
	}
	var n int64
	for k, v := range r.Replies {
		switch {
		case len(key) == 3 && strings.HasSuffix(key, "xx"):
			if k[0] == key[0] {
				n += v
			}
		case k == key || strings.HasPrefix(k, key+" ") || strings.HasPrefix(k, key) && len(key) == 3:
			n += v
		}
	}
	return n
}

// Check evaluates the expectations; it returns one line per expectation and whether all held.
func (r *Result) Check(exps []Expectation) ([]string, bool) {
	all := true
	var lines []string
	for _, e := range exps {
		got := r.Count(e.Key)
		ok := map[string]bool{"=": got == e.N, "!=": got != e.N, ">=": got >= e.N, "<=": got <= e.N, ">": got > e.N, "<": got < e.N}[e.Op]
		verdict := "ok"
		if !ok {
			verdict, all = "FAILED", false
		}
		lines = append(lines, fmt.Sprintf("expect %s: got %d, %s", e, got, verdict))
	}
	return lines, all
}

// Exit is the exit status of a run and what to say about it: with expectations, 0 when all
// hold (an --expect that names the failures a test provokes makes them expected); without, 1
// when any message or session failed, since a load generator that exits 0 on a run of errors
// is trusted by scripts that should not trust it.
func (r *Result) Exit(exps []Expectation) (int, []string) {
	if exps != nil {
		lines, ok := r.Check(exps)
		if !ok {
			return 1, lines
		}
		return 0, lines
	}
	if r.Failed > 0 {
		return 1, []string{fmt.Sprintf("%d of %d messages or sessions failed (use --expect to state which failures a run expects)", r.Failed, r.Sent+r.Failed)}
	}
	return 0, nil
}

// refusalShare is the share of refused replies above which Warn says the run measured refusals.
const refusalShare = 0.5

// Warn says when a result measures the server refusing, not accepting: most replies refusals
// (4xx or 5xx at any step), or any 452 4.3.1 (Exchange's back pressure, spec §5: the hub's
// queues or disk are full, which a load of recipients outside the organization causes, every
// message becoming an NDR to an unreachable domain). A recipient accepted but not in the
// organization cannot be seen from the client; the text says what to check.
func (r *Result) Warn() []string {
	var refused, all, backPressure int64
	for k, v := range r.Replies {
		all += v
		if k != "" && (k[0] == '4' || k[0] == '5') {
			refused += v
		}
		if strings.HasPrefix(k, "452 4.3.1") {
			backPressure += v
		}
	}
	var out []string
	if all > 0 && float64(refused) > refusalShare*float64(all) {
		out = append(out, fmt.Sprintf("%d of %d replies were refusals (%d 4xx, %d 5xx): this run measured refusals, not mail flow. "+
			"Check that the recipients (--to) are mailboxes of an accepted domain of the organization, that the connector lets this client send "+
			"(AUTH, MessageRateLimit, MaxRecipientsPerMessage) and what the replies above say", refused, all, r.Count("4xx"), r.Count("5xx")))
	}
	if backPressure > 0 {
		out = append(out, fmt.Sprintf("the server answered 452 4.3.1 (back pressure) %d times: its queues or disk are full. "+
			"Recipients outside the organization make an NDR per message that waits for an unreachable domain; "+
			"load-test with recipients that exist in the organization (or a send connector to a sink for the NDRs)", backPressure))
	}
	return out
}
