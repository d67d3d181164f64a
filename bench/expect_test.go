package bench

import "testing"

func TestExpect(t *testing.T) {
	r := &Result{Sent: 5, Failed: 3, Replies: map[string]int64{"250 2.6.0": 5, "421 4.4.2": 2, "452 4.5.3": 1, "550 5.7.54": 4}}
	for _, c := range []struct {
		expect string
		ok     bool
	}{
		{"250 2.6.0=5", true},
		{"250=5,421 4.4.2=2", true},
		{"421 4.4.2>=3", false},
		{"4xx=3,5xx=4,2xx=5", true},
		{"5xx=0", false},
		{"550 5.7.54>1, 550 5.7.5=0", true}, // a prefix matches whole words only
		{"sent=5,failed<=3", true},
		{"failed!=3", false},
		{"452<2", true},
	} {
		exps, err := ParseExpect(c.expect)
		if err != nil {
			t.Fatalf("%q: %v", c.expect, err)
		}
		lines, ok := r.Check(exps)
		if ok != c.ok {
			t.Errorf("%q: ok=%v, want %v: %v", c.expect, ok, c.ok, lines)
		}
	}
	for _, bad := range []string{"", "250", "=5", "250 2.6.0~5", "250=x"} {
		if _, err := ParseExpect(bad); err == nil {
			t.Errorf("ParseExpect(%q) accepted", bad)
		}
	}
}
