package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

func member(id string, region cohorts.Region) cohorts.Member {
	return cohorts.Member{ID: id, Region: region}
}

func TestAddMembers(t *testing.T) {
	a, _ := open(t)
	ctx := alice
	if _, err := a.AddMembers(ctx, admin.AddMembersRequest{Cohort: "staff", Create: true, Members: []cohorts.Member{member("u1", "US"), member("u2", "")}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		req     admin.AddMembersRequest
		want    admin.MemberEdit
		wantErr error
	}{
		{
			name: "a region given to a listed id is a change, not an addition",
			req:  admin.AddMembersRequest{Cohort: "staff", Members: []cohorts.Member{member("u1", "country:NA"), member("u2", "fr"), member("u3", "")}},
			want: admin.MemberEdit{Added: 1, AddedIDs: []string{"u3"}, RegionChanged: 2, Members: 3, Version: 2,
				RegionChanges: []admin.RegionChange{{ID: "u1", From: "US", To: "NA"}, {ID: "u2", From: "", To: "FR"}}},
		},
		{
			name: "listed ids without a region are unchanged, and nothing is written",
			req:  admin.AddMembersRequest{Cohort: "staff", Members: []cohorts.Member{member("u1", ""), member("u2", "FR")}},
			want: admin.MemberEdit{Unchanged: 2, Members: 3, Version: 2},
		},
		{
			name:    "a group's name is not a member's region",
			req:     admin.AddMembersRequest{Cohort: "staff", Members: []cohorts.Member{member("u4", "NA")}},
			wantErr: ramp.ErrInvalid,
		},
		{
			name:    "an unknown cohort is refused without Create",
			req:     admin.AddMembersRequest{Cohort: "staf", Members: []cohorts.Member{member("u4", "")}},
			wantErr: ramp.ErrNotFound,
		},
		{
			name:    "no users",
			req:     admin.AddMembersRequest{Cohort: "staff"},
			wantErr: ramp.ErrInvalid,
		},
	}
	for _, step := range steps {
		got, err := a.AddMembers(ctx, step.req)
		if !errors.Is(err, step.wantErr) || (step.wantErr == nil && err != nil) {
			t.Fatalf("%s: error %v, want %v", step.name, err, step.wantErr)
		}
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, diff)
		}
	}
	var unknown *admin.UnknownCohortError
	_, err := a.AddMembers(ctx, admin.AddMembersRequest{Cohort: "staf", Members: []cohorts.Member{member("u4", "")}})
	if !errors.As(err, &unknown) || unknown.Suggestion != "staff" || !unknown.NotCreated {
		t.Errorf("add to staf: %#v, want a suggestion of staff", err)
	}
	if cs, _ := a.Cohorts(ctx); len(cs) != 1 {
		t.Errorf("refused additions created cohorts: %v", cs)
	}

	res, err := a.RemoveMembers(ctx, "staff", []string{"u3", "u9", "u3"})
	want := admin.MemberEdit{Removed: 1, RemovedIDs: []string{"u3"}, Unchanged: 1, Members: 2, Version: 3}
	if err != nil || !cmp.Equal(want, res) {
		t.Errorf("RemoveMembers = %+v, %v; want %+v", res, err, want)
	}
	c, err := a.Cohort(ctx, "staff")
	if err != nil || c.Members != 2 || !cmp.Equal(c.ByRegion, map[string]int{"NA": 1, "FR": 1}) {
		t.Errorf("Cohort = %+v, %v", c, err)
	}
}

func TestImportMembers(t *testing.T) {
	a, _ := open(t)
	ctx := alice
	imp := func(req admin.ImportRequest, content string) (admin.ImportResult, error) {
		req.Source = strings.NewReader(content)
		req.File = "test.csv"
		return a.ImportMembers(ctx, req)
	}
	if _, err := imp(admin.ImportRequest{Cohort: "beta-testers", Create: true}, "user_id,region\nu1,US\nu2,country:NA\n"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     admin.ImportRequest
		content string
		wantErr error
		want    string // part of the error
	}{
		{"a misspelled cohort", admin.ImportRequest{Cohort: "beta-tester"}, "user_id\nu3\n", ramp.ErrNotFound, `did you mean "beta-testers"?`},
		{"a misspelled cohort, adding", admin.ImportRequest{Cohort: "beta_testers", Mode: admin.ImportAdd}, "user_id\nu3\n", ramp.ErrNotFound, `did you mean "beta-testers"?`},
		{"nothing close", admin.ImportRequest{Cohort: "employees"}, "user_id\nu3\n", ramp.ErrNotFound, `cohort "employees" does not exist`},
		{"an empty replace", admin.ImportRequest{Cohort: "beta-testers"}, "user_id\n", admin.ErrEmptyReplace, "remove all 2 members"},
		{"an invalid row", admin.ImportRequest{Cohort: "beta-testers"}, "user_id,region\nu1,XX\n", ramp.ErrInvalid, "test.csv"},
		{"over the row limit", admin.ImportRequest{Cohort: "beta-testers", CSV: csvfile.Options{MaxRows: 1}}, "user_id\nu1\nu2\n", ramp.ErrInvalid, "test.csv"},
	}
	for _, tt := range tests {
		_, err := imp(tt.req, tt.content)
		if !errors.Is(err, tt.wantErr) || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one matching %v and saying %q", tt.name, err, tt.wantErr, tt.want)
		}
		// (csvfile's limit errors still name --max-rows.)
		if err != nil && strings.Contains(err.Error(), "--") && tt.name != "over the row limit" {
			t.Errorf("%s: the error names a command-line flag: %v", tt.name, err)
		}
	}
	if cs, _ := a.Cohorts(ctx); len(cs) != 1 || cs[0].Members != 2 {
		t.Errorf("refused imports changed the cohorts: %+v", cs)
	}

	var progress []admin.ImportProgress
	var header []string
	res, err := imp(admin.ImportRequest{Cohort: "beta-testers", Mode: admin.ImportAdd,
		Header:   func(h []string) error { header = h; return nil },
		Progress: func(p admin.ImportProgress) { progress = append(progress, p) }}, "user_id,region\nu3,FR\nu1,CA\n")
	if err != nil || res.Added != 1 || res.Updated != 1 || res.Members != 3 {
		t.Errorf("add = %+v, %v", res, err)
	}
	if !cmp.Equal(header, []string{"user_id", "region"}) || len(progress) != 1 || !progress[0].Done || progress[0].Rows != 2 {
		t.Errorf("header %q, progress %+v", header, progress)
	}

	d, err := a.DiffMembers(ctx, admin.DiffRequest{Cohort: "beta-testers", Source: strings.NewReader("user_id\nu1\nu4\n"), Samples: 10})
	if err != nil || !cmp.Equal(d.AddedSample, []string{"u4"}) || !cmp.Equal(d.RemovedSample, []string{"u2", "u3"}) {
		t.Errorf("diff = %+v, %v", d, err)
	}
	d, err = a.DiffMembers(ctx, admin.DiffRequest{Cohort: "beta-tester", Source: strings.NewReader("user_id\nu1\n")})
	if err != nil || !d.Created || d.DidYouMean != "beta-testers" || d.Added != 1 {
		t.Errorf("diff into an unknown cohort = %+v, %v", d, err)
	}

	var out bytes.Buffer
	n, err := a.ExportMembers(ctx, "beta-testers", &out, admin.ExportOptions{})
	if want := "user_id,region\nu1,CA\nu2,country:NA\nu3,FR\n"; err != nil || n != 3 || out.String() != want {
		t.Errorf("export = %d %q, %v; want %q", n, out.String(), err, want)
	}
	if _, err := a.ExportMembers(ctx, "beta-tester", &out, admin.ExportOptions{}); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("export of an unknown cohort: %v", err)
	}
}

// The audit log names the ids an edit added and the regions it changed:
// the first 100 of each, and the counts.
func TestAuditOfMemberEdits(t *testing.T) {
	ctx := admin.WithActor(context.Background(), "alice")
	s, err := store.Open(ctx, testdb.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	a := admin.New(s)
	t.Cleanup(func() { a.Close() })
	ms := make([]cohorts.Member, 150)
	for i := range ms {
		ms[i] = member(fmt.Sprintf("u%03d", i), "")
	}
	if _, err := a.AddMembers(ctx, admin.AddMembersRequest{Cohort: "big", Create: true, Members: ms}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddMembers(ctx, admin.AddMembersRequest{Cohort: "big", Members: []cohorts.Member{member("u007", "DE"), member("new", "")}}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Audit(ctx, store.AuditFilter{Kind: "cohort", Action: "cohort.add-members"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit = %v, %v", entries, err)
	}
	type edit struct {
		Members admin.MemberEdit `json:"members"`
	}
	var got []admin.MemberEdit
	for _, e := range entries {
		var v edit
		if err := json.Unmarshal(e.After, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v.Members)
	}
	if got[0].Added+got[1].Added != 151 {
		t.Errorf("added counts %d and %d, want 151 in all", got[0].Added, got[1].Added)
	}
	for _, g := range got {
		switch g.Added {
		case 150:
			if len(g.AddedIDs) != 100 || g.AddedIDs[0] != "u000" || !g.Created {
				t.Errorf("first edit lists %d ids from %v (created %v), want the first 100", len(g.AddedIDs), g.AddedIDs[:1], g.Created)
			}
		case 1:
			want := admin.MemberEdit{Added: 1, AddedIDs: []string{"new"}, RegionChanged: 1, Members: 151, Version: 2,
				RegionChanges: []admin.RegionChange{{ID: "u007", From: "", To: "DE"}}}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("second edit (-want +got):\n%s", diff)
			}
		}
	}
}

func TestClosestCohort(t *testing.T) {
	a, _ := open(t)
	ctx := alice
	for _, key := range []string{"beta-testers", "employees", "eu-staff", "ab"} {
		if _, err := a.AddMembers(ctx, admin.AddMembersRequest{Cohort: key, Create: true, Members: []cohorts.Member{member("u1", "")}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ key, want string }{
		{"beta-tester", "beta-testers"},
		{"beta-tseters", "beta-testers"}, // a transposition is one edit
		{"Employees", "employees"},
		{"emplyees", "employees"},
		{"eu-staf", "eu-staff"},
		{"ba", "ab"},
		{"staff", ""},
		{"zzzzzzzz", ""},
	}
	for _, tt := range tests {
		_, err := a.Cohort(ctx, tt.key)
		var unknown *admin.UnknownCohortError
		if !errors.As(err, &unknown) || !errors.Is(err, ramp.ErrNotFound) {
			t.Fatalf("Cohort(%q) = %v, want an *UnknownCohortError", tt.key, err)
		}
		if unknown.Suggestion != tt.want {
			t.Errorf("Cohort(%q) suggests %q, want %q", tt.key, unknown.Suggestion, tt.want)
		}
	}
}
