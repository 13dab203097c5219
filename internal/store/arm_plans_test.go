package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompactionPlans pins the SQLite query plans compaction and its
// maintenance of statistics depend on: without statistics on its tables,
// SQLite takes an index that reads every exposure of the table or of an
// experiment where a chunk needs a few (each of these was measured: a
// backfill at 3,000 exposures/s at 10M units, a compaction of 20,000
// events in 86 s instead of 1.2 s).
func TestCompactionPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"backfill", backfillSQL(s.d), []any{0, 10, 0}, "SEARCH x USING INTEGER PRIMARY KEY"},
		{"statistics' backfill", statsBackfillSQL(2), []any{"a", "b", 0, 10, "e", 1}, "SEARCH x USING INTEGER PRIMARY KEY"},
		{"statistics' forward step", statsForwardSQL(s.d, 2, 1), []any{0, 10, 5, "a", "b", "e"}, "SEARCH x USING INDEX tracking_exposures_unit"},
		{"forward step", strings.ReplaceAll(forwardTotals, "%s", eventUnits(s.d)), []any{0, 10, 5}, "SEARCH x USING INDEX tracking_exposures_unit"},
	} {
		rows, err := s.w.Raw("EXPLAIN QUERY PLAN "+c.query, c.args...).Rows()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, c.want) {
			t.Errorf("%s: plan %q, want it to %s", c.name, got, c.want)
		}
	}
}
