package smtpwire

import (
	"path/filepath"
	"testing"
	"time"
)

// TestProtocolLogFormat: CSV quoting (a banner with commas, a quote), the multi-line reply on
// one line, AUTH redaction, rollover at MaxFileSize with the header in every file, and the
// lines read back as written.
func TestProtocolLogFormat(t *testing.T) {
	dir := t.TempDir()
	p := NewProtocolLog(dir, false, ProtocolLogOptions{MaxFileSize: 600})
	now := time.Date(2026, 11, 24, 16, 0, 4, 113e6, time.UTC)
	var in []LogLine
	for i, d := range []struct {
		event   byte
		data    string
		context string
	}{
		{'+', "", ""},
		{'>', "220 ex01 Microsoft ESMTP MAIL Service ready at Tue, 24 Nov 2026 16:00:04 +0000", ""},
		{'<', `MAIL FROM:<"a,b"@example.org>`, ""},
		{'>', LogReply("250-ex01 Hello [10.1.1.30]\r\n250-SIZE 37748736\r\n250 CHUNKING"), ""},
		{'>', LogReply("334 VXNlcm5hbWU6"), ""},
		{'*', "08DC42C8FF236A1F;2026-11-24T16:00:04.113Z;1", "receiving message"},
		{'-', "", "Local"},
	} {
		in = append(in, LogLine{Time: now, Connector: `EX01\Default Frontend EX01`, Session: "08DC42C8FF236A1F", Seq: i,
			Local: "10.1.1.25:25", Remote: "[2001:db8::1]:62136", Event: d.event, Data: d.data, Context: d.context})
	}
	p.Write(in[:3])
	p.Write(in[3:])
	p.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "RECV2026112416-*.LOG"))
	if len(files) < 2 {
		t.Fatalf("no rollover at 600 bytes: %v", files)
	}
	var out []LogLine
	for _, f := range files {
		ls, err := ParseProtocolLog(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ls...)
	}
	if len(out) != len(in) {
		t.Fatalf("%d lines back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, out[i], in[i])
		}
	}
	if in[3].Data != "250  ex01 Hello [10.1.1.30] SIZE 37748736 CHUNKING" || in[4].Data != "334 <authentication response>" {
		t.Errorf("reply forms: %q %q", in[3].Data, in[4].Data)
	}
}

// TestAppendCSV: a field is quoted only when it holds a comma, a quote or a line break;
// quotes inside are doubled and line breaks become spaces (one log line per event).
func TestAppendCSV(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"EHLO client.example", "EHLO client.example"},
		{"220 ex01 ready at Thu, 3 Dec 2026", `"220 ex01 ready at Thu, 3 Dec 2026"`},
		{`say "hi"`, `"say ""hi"""`},
		{"a\r\nb", `"a  b"`},
		{`"`, `""""`},
		{"x,\"y\"\n", `"x,""y"" "`},
	} {
		if got := string(AppendCSV([]byte("p:"), tc.in)); got != "p:"+tc.want {
			t.Errorf("AppendCSV(%q) = %q, want %q", tc.in, got, "p:"+tc.want)
		}
	}
}

// BenchmarkAppendCSV: the fields of a typical session's lines (plain commands, the banner and
// the 250 2.6.0 with commas, an EHLO reply).
func BenchmarkAppendCSV(b *testing.B) {
	fields := []string{"EX01\\Default Frontend EX01", "MAIL FROM:<bench@bench.test>", "250 2.1.0 Sender OK",
		"220 ex01.contoso.test Microsoft ESMTP MAIL Service ready at Thu, 3 Dec 2026 05:33:17 +0000",
		"250 2.6.0 <f0562e8f-bd40-43a0-94c5-0e6123f225eb@ex01.contoso.test> [InternalId=179627599723800, Hostname=ex01.contoso.test] 1071 bytes in 0.002, 505.803 KB/sec Queued mail for delivery",
		"250  ex01.contoso.test Hello [127.0.0.1] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST", ""}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, f := range fields {
			buf = AppendCSV(buf, f)
		}
	}
}
