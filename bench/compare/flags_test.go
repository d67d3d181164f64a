package main

import (
	"slices"
	"testing"
	"time"
)

func TestParsePoints(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "all", want: []int{0, 1, 2, 3, 4, 5, 6}},
		{in: "", want: []int{0, 1, 2, 3, 4, 5, 6}},
		{in: "main", want: []int{1, 4}},
		{in: "2", want: []int{1}},
		{in: "5, 2,2", want: []int{1, 4}},
		{in: "0", wantErr: true},
		{in: "8", wantErr: true},
		{in: "2,x", wantErr: true},
	}
	for _, tc := range tests {
		got, err := parsePoints(tc.in, len(points))
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parsePoints(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(options) bool
		wantErr bool
	}{
		{args: nil, check: func(o options) bool {
			return o.Exlab == "bin/exlab" && o.Repeat == 3 && o.Duration == 3*time.Second && o.Baseline == "" &&
				len(o.Points) == len(points) && o.Extras && o.SmtpSource && o.Submission && o.Sustained == 0
		}},
		{args: []string{"-baseline", "HEAD~1", "-points", "main", "-extras=false", "-sustained", "60s", "-duration", "1s", "-repeat", "1"},
			check: func(o options) bool {
				return o.Baseline == "HEAD~1" && slices.Equal(o.Points, mainPoints) && !o.Extras && o.Sustained == time.Minute &&
					o.Duration == time.Second && o.Repeat == 1
			}},
		{args: []string{"-repeat", "0"}, wantErr: true},
		{args: []string{"-points", "9"}, wantErr: true},
		{args: []string{"stray"}, wantErr: true},
		{args: []string{"-nosuch"}, wantErr: true},
	}
	for _, tc := range tests {
		o, err := parseFlags(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseFlags(%q): error %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if err == nil && !tc.check(o) {
			t.Errorf("parseFlags(%q) = %+v", tc.args, o)
		}
	}
}
