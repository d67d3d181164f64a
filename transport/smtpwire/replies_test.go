package smtpwire

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

const specReplies = "../../../shared/spec/replies.tsv"

// TestRepliesMatchSpec reads replies.tsv and checks that the table exlab renders from holds
// every row byte for byte (run `make generate` after the spec changes).
func TestRepliesMatchSpec(t *testing.T) {
	f, err := os.Open(specReplies)
	if err != nil {
		t.Fatalf("the spec must be beside the checkout (../shared/spec/replies.tsv): %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 8 {
			continue
		}
		n++
		row, ok := LookupRow(c[0])
		if !ok {
			t.Errorf("%s: missing from the reply table", c[0])
			continue
		}
		code, _ := strconv.Atoi(c[2])
		if row.Code != code || row.Enhanced != c[3] || row.Text != c[4] {
			t.Errorf("%s: table has %d %q %q, spec has %d %q %q", c[0], row.Code, row.Enhanced, row.Text, code, c[3], c[4])
		}
	}
	if n != len(specRows) {
		t.Errorf("spec has %d rows, table %d", n, len(specRows))
	}
}

// TestRenderEveryRow renders every SMTP reply row with its placeholders filled and checks the
// rendered line starts with its code and enhanced code, and that no placeholder survives.
func TestRenderEveryRow(t *testing.T) {
	args := []string{"fqdn", "ex01.contoso.test", "ip", "192.0.2.1", "date", "Wed, 13 Mar 2024 10:01:17 +0100",
		"msgid", "<a@b>", "internalid", "1", "hubfqdn", "ex01.contoso.test", "bytes", "1", "secs", "0.001",
		"rate", "1.000", "n", "5", "challenge", "eA==", "inner reply", "x", "reply", "x", "ip", "192.0.2.1",
		"port", "25", "host", "h", "internalid", "2", "token", "FOO", "duration", "00:05:00.7054661", "winsock", "10061", "reason", "SocketError", "endpoint", "192.0.2.1:717", "count", "3"}
	for _, row := range append(append([]Row{}, specRows...), exlabRows...) {
		if row.Code == 0 || row.ID == "R02" || strings.Contains(row.Text, "not public") {
			continue // not SMTP replies (R72, R87), the free-form Banner, or a text nobody has (R73)
		}
		r := Render(row.ID, args...)
		first := strings.SplitN(r.Text, "\r\n", 2)[0]
		if r.Code() != row.Code {
			t.Errorf("%s: renders code %d, row says %d: %q", row.ID, r.Code(), row.Code, first)
		}
		if row.Enhanced != "" && r.Enhanced() != row.Enhanced {
			t.Errorf("%s: renders enhanced %q, row says %q", row.ID, r.Enhanced(), row.Enhanced)
		}
		if row.ID != "R46" && strings.ContainsAny(r.Text, "<>") && !strings.Contains(r.Text, "<a@b>") && !strings.Contains(r.Text, "<CRLF>") {
			t.Errorf("%s: placeholder left in %q", row.ID, r.Text)
		}
	}
}
