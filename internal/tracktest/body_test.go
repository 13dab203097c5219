package tracktest

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// TestRenewWritesNewEvents checks what Renew promises: every event of
// every renewed body has a new 32-hex-digit id and a time a microsecond
// after the one before, across a second's boundary (where the time is
// formatted whole again) and across bodies.
func TestRenewWritesNewEvents(t *testing.T) {
	clock.Lock()
	clock.t = time.Date(2026, 12, 31, 23, 59, 59, 999_000_000, time.UTC) // 1,000 µs before a new year
	clock.Unlock()
	hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	var last time.Time
	for _, body := range []*Body{NewBody(700, 1), NewBody(700, 2)} {
		for range 2 {
			body.Renew()
			var b struct {
				Events []struct {
					ID, Time string
				}
			}
			if err := json.Unmarshal(body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			for _, e := range b.Events {
				at, err := time.Parse(time.RFC3339Nano, e.Time)
				if err != nil {
					t.Fatal(err)
				}
				if !last.IsZero() && at.Sub(last) != time.Microsecond {
					t.Fatalf("%s follows %s", e.Time, last.Format(timeLayout))
				}
				last = at
				if !hex.MatchString(e.ID) || seen[e.ID] {
					t.Fatalf("id %q: not 32 hex digits, or seen before", e.ID)
				}
				seen[e.ID] = true
			}
		}
	}
	if want := time.Date(2027, 1, 1, 0, 0, 0, 1_799_000, time.UTC); !last.Equal(want) {
		t.Errorf("last time %s, want %s", last.Format(timeLayout), want.Format(timeLayout))
	}
}
