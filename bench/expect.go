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
