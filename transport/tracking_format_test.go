package transport

import (
	"testing"
	"time"
)

func TestFormatISOMillis(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 2, 16, 51, 3, 530_999_999, time.UTC),
		time.Date(1999, 1, 9, 0, 0, 0, 0, time.FixedZone("x", -7*3600)),
		time.Date(2026, 2, 28, 23, 59, 59, 1_000_000, time.Local),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	} {
		if got, want := formatISOMillis(tm), tm.UTC().Format(isoMillis); got != want {
			t.Errorf("formatISOMillis(%v) = %q, want %q", tm, got, want)
		}
	}
}
