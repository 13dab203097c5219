package cohorts

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-01-31T00:00:00Z", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"2026-01-31T09:30:00+05:30", time.Date(2026, 1, 31, 4, 0, 0, 0, time.UTC)},
		{"2026-01-01T00:00:00-00:01", time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)},
		{"2025-12-31T23:59:59.999999999Z", time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"2025-12-31T23:59:59.5Z", time.Date(2025, 12, 31, 23, 59, 59, 5e8, time.UTC)},
		{"2025-12-31T23:59:59.1234567891234Z", time.Date(2025, 12, 31, 23, 59, 59, 123456789, time.UTC)},
		{"2024-02-29T12:00:00+23:59", time.Date(2024, 2, 28, 12, 1, 0, 0, time.UTC)},
		{"2000-02-29T00:00:00Z", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"9999-12-31T23:59:59Z", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, ok := parseTime(tt.in)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, true", tt.in, got, ok, tt.want)
		}
		if std, err := time.Parse(time.RFC3339, tt.in); err != nil || !std.Equal(got) {
			t.Errorf("time.Parse(RFC3339, %q) = %v, %v; parseTime says %v", tt.in, std, err, got)
		}
	}
	for _, in := range []string{
		"", "2026-01-31", "2026-01-31T00:00:00", "2026-01-31 00:00:00Z", "2026-01-31t00:00:00Z", "2026-01-31T00:00:00z",
		"2026-01-31T00:00:00.Z", "2026-01-31T00:00:00,5Z", "2026-01-31T00:00:00+0530", "2026-01-31T00:00:00+05", "2026-01-31T00:00:00 +05:30",
		"2026-01-31T00:00:00+24:00", "2026-01-31T00:00:00+05:60", "2026-01-31T00:00:00ZZ", "2026-01-31T00:00:00Z ",
		"2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-31T24:00:00Z", "2026-01-31T00:60:00Z", "2026-01-31T00:00:60Z",
		"+2026-01-31T00:00:00Z", "20260-01-31T00:00:00Z", "2026-1-31T00:00:00Z", "2026-01-31T0:00:00Z", "abcd-ef-ghTij:kl:mnZ",
		"2026-01-31T-1:00:00Z", "2026-01-31T00:00:00+-1:00",
	} {
		if got, ok := parseTime(in); ok {
			t.Errorf("parseTime(%q) = %v, true; want false", in, got)
		}
	}
}

// parseTime reads what time.Format writes, in any zone.
func TestParseTimeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 20_000 {
		in := time.Unix(r.Int64N(253402300800), r.Int64N(1e9)) // years 1970 to 9999
		zone := time.FixedZone("", (r.IntN(24*60*2-1)-(24*60-1))*60)
		layout := time.RFC3339
		if r.IntN(2) == 0 {
			layout = time.RFC3339Nano
		}
		s := in.In(zone).Format(layout)
		got, ok := parseTime(s)
		want := in
		if layout == time.RFC3339 {
			want = in.Truncate(time.Second)
		}
		if !ok || !got.Equal(want) {
			t.Fatalf("parseTime(%q) = %v, %v; want %v, true", s, got, ok, want)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-01-31T00:00:00Z", "2026-01-31T09:30:00.25+05:30", "2024-02-29T23:59:59.999999999-23:59",
		"2026-02-29T00:00:00Z", "2026-01-31T00:00:00+24:00", "2026-01-31T00:00:00.Z", "not a time",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime(s)
		if !ok {
			return
		}
		// Whatever parseTime accepts, time.Parse reads as the same instant.
		std, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("parseTime(%q) = %v, but time.Parse fails: %v", s, got, err)
		}
		if !std.Equal(got) {
			t.Fatalf("parseTime(%q) = %v, time.Parse says %v", s, got, std)
		}
	})
}

func TestIsDecimal(t *testing.T) {
	for _, s := range []string{"0", "12", "-12", "+12", "1.5", "-1.5e-3", ".5", "5.", "1e10", "1E+10", "00012", "1e400", "123456789012345678901234567890"} {
		if !isDecimal(s) {
			t.Errorf("isDecimal(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "+", "-", ".", "e5", ".e5", "1e", "1e+", "1.2.3", "1,5", " 1", "1 ", "--1", "1-", "Inf", "-inf", "NaN", "0x10", "0x1p-2", "1_000", "1e5.5", "١"} {
		if isDecimal(s) {
			t.Errorf("isDecimal(%q) = true, want false", s)
		}
	}
}

func FuzzIsDecimal(f *testing.F) {
	for _, s := range []string{"12", "-1.5e-3", ".5", "5.", "1e400", "Inf", "0x1p-2", "1_0", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isDecimal(s) {
			return
		}
		// A decimal is always well-formed for ParseFloat; it may only be
		// out of range.
		if _, err := strconv.ParseFloat(s, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("isDecimal(%q) but ParseFloat: %v", s, err)
		}
	})
}
