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
