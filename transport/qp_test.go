package transport

import (
	"bytes"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// TestWriteQP: writeQP writes what mime/quotedprintable's Writer writes, for the NDR texts and
// for random text full of the cases that matter (long lines, '=', trailing blanks, bare CR and
// LF, 8-bit bytes).
func TestWriteQP(t *testing.T) {
	std := func(s string) string {
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.String()
	}
	cases := []string{"", "plain", "a=b", "trailing \r\nnext\t\r\n", strings.Repeat("x", 200), strings.Repeat("ab=", 60),
		"<font color=\"#000066\" size=\"3\" face=\"Segoe UI\">Delivery has failed</font>\r\n", "é ü\r\n", "cr\ronly\nlf\r\r\n", " ", "\t\r\n"}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc =\t\r\n\xe9~!\x7f\x00")
	for n := 0; n < 3000; n++ {
		b := make([]byte, r.IntN(400))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var b strings.Builder
		writeQP(&b, s)
		if got, want := b.String(), std(s); got != want {
			t.Fatalf("writeQP(%q)\n = %q\nwant %q", s, got, want)
		}
	}
}

func BenchmarkWriteQP(b *testing.B) {
	s := strings.Repeat("<p>Your message couldn't be delivered to user@contoso.test because the address wasn't found.</p>\r\n", 30)
	b.ReportAllocs()
	for b.Loop() {
		var sb strings.Builder
		writeQP(&sb, s)
	}
}
