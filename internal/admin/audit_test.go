package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/admin"
)

func TestSummarizeChange(t *testing.T) {
	long := `"` + strings.Repeat("x", 40) + `"`
	tests := []struct {
		name, before, after, want string
	}{
		{"creation", "", `{"key":"a"}`, "created"},
		{"deletion", `{"key":"a"}`, "", "deleted"},
		{"one field", `{"key":"a","enabled":true}`, `{"key":"a","enabled":false}`, "enabled: true → false"},
		{"fields in order", `{"b":1,"a":1,"c":1}`, `{"b":2,"a":2,"c":1}`, "b: 1 → 2; a: 1 → 2"},
		{"field added and removed", `{"a":1,"gone":"x"}`, `{"a":1,"new":[]}`, `gone: "x" → (none); new: (none) → []`},
		{"nested field", `{"rules":[{"rollout":[{"weight":10}]}]}`, `{"rules":[{"rollout":[{"weight":20}]}]}`, "rules[0].rollout[0].weight: 10 → 20"},
		{"array grown", `{"members":["a","b","c","d","e","f","g","h","i"]}`, `{"members":["a","b","c","d","e","f","g","h","i","j"]}`, "members: [9 items] → [10 items]"},
		{"short array", `{"tags":["a"]}`, `{"tags":["a","b"]}`, `tags: ["a"] → ["a","b"]`},
		{"long string clipped", `{"d":` + long + `}`, `{"d":"y"}`, `d: "` + strings.Repeat("x", 29) + `…" → "y"`},
		{"long object", `{"o":{"aaaaaaaaaa":1,"bbbbbbbbbbbb":2,"cccccccccc":3}}`, `{"o":null}`, "o: {3 fields} → null"},
		{"more than three", `{"a":1,"b":1,"c":1,"d":1,"e":1}`, `{"a":2,"b":2,"c":2,"d":2,"e":2}`, "a: 1 → 2; b: 1 → 2; c: 1 → 2; +2 more"},
		{"same value, other spelling", `{"a": 1, "b": {"x":1,"y":2}}`, `{"b":{"y":2,"x":1},"a":1}`, "no change"},
		{"not objects", `1`, `2`, "1 → 2"},
		{"bookkeeping left out", `{"paused":false,"version":3,"updatedBy":"bob"}`, `{"paused":true,"version":4,"updatedBy":"alice"}`, "paused: false → true"},
		{"bookkeeping alone", `{"version":3}`, `{"version":4}`, "version: 3 → 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admin.SummarizeChange(raw(tt.before), raw(tt.after)); got != tt.want {
				t.Errorf("admin.SummarizeChange(%s, %s)\n got %s\nwant %s", tt.before, tt.after, got, tt.want)
			}
		})
	}
}

// render prints a diff as ramp audit --diff does.
func render(lines []admin.DiffLine) string {
	var b strings.Builder
	for _, l := range lines {
		if l.Op == admin.DiffSkipped {
			b.WriteString("  …\n")
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", l.Op, l.Text)
	}
	return b.String()
}

func TestDiffChange(t *testing.T) {
	ids := func(prefix string, n int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%q", fmt.Sprintf("%s-%d", prefix, i+1))
		}
		return "[" + strings.Join(out, ",") + "]"
	}
	tests := []struct {
		name, before, after, want string
	}{
		{"one field", `{"key":"a","enabled":true,"tags":["x"]}`, `{"key":"a","enabled":false,"tags":["x"]}`, `  {
    "key": "a",
-   "enabled": true,
+   "enabled": false,
    "tags": ["x"]
  }
`},
		{"creation", ``, `{"key":"a"}`, "+ {\n+   \"key\": \"a\"\n+ }\n"},
		{"deletion", `{"key":"a"}`, ``, "- {\n-   \"key\": \"a\"\n- }\n"},
		{"no change", `{"a":1,"b":2}`, `{"b":2,"a":1}`, ""},
		{"far from the change", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1}`, `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":2}`, `  …
    "d": 1,
    "e": 1,
    "f": 1,
-   "g": 1
+   "g": 2
  }
`},
		// A member edit as the audit log records it: the ids it added,
		// packed several to a line, and each region change on one.
		{"member edit", `{"key":"employees","memberCount":5}`,
			`{"key":"employees","memberCount":30,"members":{"added":25,"addedIds":` + ids("emp", 25) + `,"regionChanged":1,"regionChanges":[{"id":"emp-1","from":"US","to":"CA"}],"removed":0}}`,
			`  {
    "key": "employees",
-   "memberCount": 5
+   "memberCount": 30,
+   "members": {
+     "added": 25,
+     "addedIds": [
+       "emp-1", "emp-2", "emp-3", "emp-4", "emp-5", "emp-6", "emp-7", "emp-8", "emp-9", "emp-10",
+       "emp-11", "emp-12", "emp-13", "emp-14", "emp-15", "emp-16", "emp-17", "emp-18", "emp-19",
+       "emp-20", "emp-21", "emp-22", "emp-23", "emp-24", "emp-25"
+     ],
+     "regionChanged": 1,
+     "regionChanges": [
+       {"id":"emp-1","from":"US","to":"CA"}
+     ],
+     "removed": 0
+   }
  }
`},
		{"rules stay one field a line", `{"rules":[{"name":"r","cohorts":["a"],"rollout":[{"variant":"on","weight":10}]}]}`, `{"rules":[{"name":"r","cohorts":["a"],"rollout":[{"variant":"on","weight":20}]}]}`, `  …
        "name": "r",
        "cohorts": ["a"],
        "rollout": [
-         {"variant":"on","weight":10}
+         {"variant":"on","weight":20}
        ]
      }
    ]
  …
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, render(admin.DiffChange(raw(tt.before), raw(tt.after)))); d != "" {
				t.Errorf("diff (-want +got):\n%s", d)
			}
		})
	}
}

// TestAudit reads the log back with a limit, and says when older entries
// were left out.
func TestAudit(t *testing.T) {
	ctx := admin.WithActor(context.Background(), "alice")
	a, _ := open(t)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: name, Role: admin.RoleSDK}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		filter admin.AuditFilter
		want   []string
		more   bool
	}{
		{admin.AuditFilter{}, []string{"a", "b", "c"}, false},
		{admin.AuditFilter{Limit: 2}, []string{"b", "c"}, true},
		{admin.AuditFilter{Limit: 3}, []string{"a", "b", "c"}, false},
		{admin.AuditFilter{Actor: "bob"}, nil, false},
	} {
		log, err := a.Audit(ctx, tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range log.Entries {
			got = append(got, e.Target)
		}
		if log.Entries == nil || !cmp.Equal(got, tt.want) || log.More != tt.more {
			t.Errorf("Audit(%+v) = %v (more %v), want %v (more %v)", tt.filter, got, log.More, tt.want, tt.more)
		}
	}
}

// raw is a JSON document as the audit log holds it: nil for "".
func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
