package main

import (
	"slices"
	"testing"
	"time"
)

func TestSmtpSourceCount(t *testing.T) {
	tests := []struct {
		out     string
		want    int
		wantErr bool
	}{
		{out: "1\r2\r3\r\n", want: 3},
		{out: "\r1\r2\r49\r50\r\n", want: 50}, // as smtp-source -c prints it
		{out: "7", want: 7},
		{out: "", wantErr: true},
		{out: "\r\n", wantErr: true},
		{out: "1\r2\rfatal\n", wantErr: true},
	}
	for _, tc := range tests {
		got, err := smtpSourceCount([]byte(tc.out))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("smtpSourceCount(%q) = %d, %v; want %d, error %v", tc.out, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSmtpSourceArgs(t *testing.T) {
	many := smtpSourceArgs("127.0.0.1:25", point{Size: 1024, Sessions: 20, PerSession: 20}, 5000, "f@x.test", "to@contoso.test")
	want := []string{"-c", "-s", "20", "-m", "5000", "-l", "1024", "-f", "f@x.test", "-t", "to@contoso.test", "-M", "bench.test", "-d", "127.0.0.1:25"}
	if !slices.Equal(many, want) {
		t.Errorf("many per connection: %q, want %q", many, want)
	}
	one := smtpSourceArgs("127.0.0.1:25", point{Size: 100, Sessions: 1, PerSession: 1}, 10, "f@x.test", "t@x.test")
	if slices.Contains(one, "-d") {
		t.Errorf("one per connection must not pass -d: %q", one)
	}
}

func TestMessagesFor(t *testing.T) {
	tests := []struct {
		rate     float64
		dur      time.Duration
		sessions int
		want     int
	}{
		{rate: 5000, dur: 3 * time.Second, sessions: 20, want: 15000},
		{rate: 10, dur: time.Second, sessions: 20, want: 200}, // floor: 10 per session
		{rate: 0, dur: time.Second, sessions: 1, want: 10},
	}
	for _, tc := range tests {
		if got := messagesFor(tc.rate, tc.dur, tc.sessions); got != tc.want {
			t.Errorf("messagesFor(%v, %v, %d) = %d, want %d", tc.rate, tc.dur, tc.sessions, got, tc.want)
		}
	}
}

func TestAgree(t *testing.T) {
	tests := []struct {
		a, b  float64
		ok    bool
		delta float64
	}{
		{a: 1000, b: 1000, ok: true, delta: 0},
		{a: 1000, b: 850, ok: true, delta: 0.15},
		{a: 850, b: 1000, ok: true, delta: 0.15},
		{a: 1000, b: 849, ok: false, delta: 0.151},
		{a: 0, b: 0, ok: false, delta: 0},
	}
	for _, tc := range tests {
		ok, d := agree(tc.a, tc.b)
		if ok != tc.ok || d < tc.delta-1e-9 || d > tc.delta+1e-9 {
			t.Errorf("agree(%v, %v) = %v, %.4f; want %v, %.4f", tc.a, tc.b, ok, d, tc.ok, tc.delta)
		}
	}
}

func TestAgreements(t *testing.T) {
	targets := []target{{Name: "a"}, {Name: "b"}}
	sel := []point{points[0], points[1], points[4]} // points[0] is no main point
	benchM := func(pn, tn string) measure { return measure{Rate: 1000} }
	source := func(pn, tn string) measure {
		if tn == "b" {
			if pn == points[4].Name {
				return measure{} // smtp-source did not run there
			}
			return measure{Rate: 700}
		}
		return measure{Rate: 900}
	}
	got := agreements(sel, targets, benchM, source)
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3 (two main points × a, one × b): %+v", len(got), got)
	}
	for _, r := range got {
		if r.Point == points[0].Name {
			t.Errorf("row for a point that is not a main point: %+v", r)
		}
		if want := r.Target == "a"; r.OK != want {
			t.Errorf("%s at %s: agree %v, want %v (delta %.2f)", r.Target, r.Point, r.OK, want, r.Delta)
		}
	}
}
