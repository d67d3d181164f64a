package bench

import "testing"

func TestStuff(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\n":           "a\r\n.\r\n",
		".a\r\n..\r\n":    "..a\r\n...\r\n.\r\n",
		"no line end":     "no line end\r\n.\r\n",
		"x\r\n.\r\ny\r\n": "x\r\n..\r\ny\r\n.\r\n",
	} {
		if got := string(Stuff([]byte(in))); got != want {
			t.Errorf("Stuff(%q) = %q, want %q", in, got, want)
		}
	}
	if b := MakeBody(1024); len(b) != 1024 {
		t.Errorf("MakeBody(1024) is %d bytes", len(b))
	}
}
