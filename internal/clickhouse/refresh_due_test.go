package clickhouse

import (
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
)

// TestGroupDue: a group is due when a statistic of it was never
// refreshed, or when the tables changed since its refresh and that
// refresh started at least RefreshEvery ago and at least twice as long ago
// as it ran.
func TestGroupDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := &Store{Now: func() time.Time { return now }, refreshEvery: time.Minute}
	q := store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}}
	g := groups([]store.ArmQuery{q})[0]
	old, changed := changeMark{exposures: 3, events: 7}, changeMark{exposures: 3, events: 8}
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixMicro() }
	refreshed := func(at int64, took time.Duration) map[string]lastRefresh {
		m := map[string]lastRefresh{}
		for _, k := range g.keys() {
			m[k] = lastRefresh{at: at, took: took.Microseconds(), mark: old}
		}
		return m
	}
	for _, c := range []struct {
		name string
		last map[string]lastRefresh
		mark changeMark
		want bool
	}{
		{"never refreshed", map[string]lastRefresh{}, old, true},
		{"one statistic never refreshed", map[string]lastRefresh{exposureKey("e"): {at: ago(time.Hour), mark: old}}, old, true},
		{"nothing changed, however old", refreshed(ago(24*time.Hour), time.Second), old, false},
		{"changed, refreshed 30 s ago", refreshed(ago(30*time.Second), time.Second), changed, false},
		{"changed, refreshed 2 min ago", refreshed(ago(2*time.Minute), time.Second), changed, true},
		{"changed, a 26-minute refresh 40 min ago", refreshed(ago(40*time.Minute), 26*time.Minute), changed, false},
		{"changed, a 26-minute refresh 52 min ago", refreshed(ago(52*time.Minute), 26*time.Minute), changed, true},
	} {
		if got := s.groupDue(g, c.last, c.mark); got != c.want {
			t.Errorf("%s: groupDue = %v, want %v", c.name, got, c.want)
		}
	}
}
