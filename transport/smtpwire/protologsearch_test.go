package smtpwire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testLogHeader = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
	"#Date: 2026-12-02T10:00:00.000Z\r\n#Fields: " + ProtocolLogFields + "\r\n"

func TestFindProtocolSessions(t *testing.T) {
	dir := t.TempDir()
	// Session A spans the hour's roll-over; its DATA reply names the Message-ID. Session B is
	// another message; session C is found by its session-id only; "EX01\Other" reuses A's
	// session-id on another connector and must not be mixed in.
	f1 := testLogHeader +
		"2026-12-02T10:59:59.000Z,EX01\\Default EX01,08DE0000000000A1,0,127.0.0.1:2525,127.0.0.1:50001,+,,\r\n" +
		"2026-12-02T10:59:59.001Z,EX01\\Default EX01,08DE0000000000A1,1,127.0.0.1:2525,127.0.0.1:50001,>,\"220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at Wed, 2 Dec 2026 10:59:59 +0000\",\r\n" +
		"2026-12-02T10:59:59.002Z,EX01\\Default EX01,08DE0000000000B2,0,127.0.0.1:2525,127.0.0.1:50002,+,,\r\n" +
		"2026-12-02T10:59:59.003Z,EX01\\Default EX01,08DE0000000000B2,1,127.0.0.1:2525,127.0.0.1:50002,>,\"250 2.6.0 <other@example.org> [InternalId=7, Hostname=ex01.contoso.test] Queued mail for delivery\",\r\n" +
		"2026-12-02T10:59:59.004Z,EX01\\Other,08DE0000000000A1,0,127.0.0.1:2526,127.0.0.1:50009,+,,\r\n"
	f2 := testLogHeader +
		"2026-12-02T11:00:00.000Z,EX01\\Default EX01,08DE0000000000A1,2,127.0.0.1:2525,127.0.0.1:50001,<,DATA,\r\n" +
		"2026-12-02T11:00:00.001Z,EX01\\Default EX01,08DE0000000000A1,3,127.0.0.1:2525,127.0.0.1:50001,>,\"250 2.6.0 <m1@example.org> [InternalId=8, Hostname=ex01.contoso.test] Queued mail for delivery\",\r\n" +
		"2026-12-02T11:00:00.002Z,EX01\\Default EX01,08DE0000000000C3,0,127.0.0.1:2525,127.0.0.1:50003,+,,\r\n" +
		"2026-12-02T11:00:00.003Z,EX01\\Default EX01,08DE0000000000A1,4,127.0.0.1:2525,127.0.0.1:50001,-,,Local\r\n"
	for name, body := range map[string]string{"RECV2026120210-1.LOG": f1, "RECV2026120211-1.LOG": f2, "notes.txt": "08DE0000000000A1 <m1@example.org>"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name         string
		needles, ids []string
		want         []string // session: sequence numbers
	}{
		{"by message id", []string{"<m1@example.org>"}, nil, []string{"08DE0000000000A1:0,1,2,3,4"}},
		{"by session id", nil, []string{"08DE0000000000C3"}, []string{"08DE0000000000C3:0"}},
		{"both, oldest first", []string{"<other@example.org>"}, []string{"08DE0000000000C3"}, []string{"08DE0000000000B2:0,1", "08DE0000000000C3:0"}},
		{"nothing", []string{"<none@example.org>"}, nil, nil},
		{"no probes", nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ss, err := FindProtocolSessions([]string{dir, filepath.Join(dir, "missing")}, c.needles, c.ids)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range ss {
				var seqs []string
				for _, l := range s.Lines {
					seqs = append(seqs, strings.TrimSpace(string(rune('0'+l.Seq))))
				}
				if s.Connector != `EX01\Default EX01` || s.Dir != dir {
					t.Errorf("session %s: connector %q dir %q", s.Session, s.Connector, s.Dir)
				}
				got = append(got, s.Session+":"+strings.Join(seqs, ","))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	// A line that contains a probe but is not a protocol-log line is an error naming the file.
	bad := filepath.Join(t.TempDir(), "RECV2026120212-1.LOG")
	_ = os.WriteFile(bad, []byte(testLogHeader+"garbage <m1@example.org>\r\n"), 0o600)
	if _, err := FindProtocolSessions([]string{filepath.Dir(bad)}, []string{"<m1@example.org>"}, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad line: %v", err)
	}
}
