package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/client"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// one authenticates every request with a bearer token as alice, an
// editor who may approve; "bob" is another.
type one struct{}

func (one) Authenticate(r *http.Request) (auth.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer alice":
		return auth.Principal{Name: "alice", Kind: auth.KindToken, Role: auth.RoleAdmin, Approve: true}, nil
	case "Bearer bob":
		return auth.Principal{Name: "bob", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true}, nil
	}
	return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "no such token")
}

// setup returns the control plane over a database with the scenario, and
// a client of the API serving it as alice.
func setup(t *testing.T) (*admin.Service, *client.Client, context.Context) {
	t.Helper()
	ctx := context.Background()
	a, err := admin.Open(ctx, testdb.DSN(t), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := config.ParsePartial("scenario.yaml", data)
	if _, err := a.Apply(admin.WithActor(ctx, "alice"), admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Admin: a, Auth: one{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "alice", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, c, admin.WithActor(ctx, "alice")
}

// TestReadsMatchLocal: what the client reads is what admin returns.
func TestReadsMatchLocal(t *testing.T) {
	a, c, ctx := setup(t)
	ignore := cmpopts.EquateEmpty()
	check := func(name string, local, remote any, lerr, rerr error) {
		t.Helper()
		if lerr != nil || rerr != nil {
			t.Fatalf("%s: local %v, remote %v", name, lerr, rerr)
		}
		if d := cmp.Diff(local, remote, ignore, cmpopts.IgnoreUnexported()); d != "" {
			t.Errorf("%s: remote differs from local (-local +remote):\n%s", name, d)
		}
	}
	lf, lerr := a.Flags(ctx)
	rf, rerr := c.Flags(ctx)
	check("Flags", lf, rf, lerr, rerr)
	lc, lerr := a.Cohorts(ctx)
	rc, rerr := c.Cohorts(ctx)
	check("Cohorts", lc, rc, lerr, rerr)
	ls, lerr := a.RolloutStatuses(ctx)
	rs, rerr := c.RolloutStatuses(ctx)
	check("RolloutStatuses", ls, rs, lerr, rerr)
	lr, lerr := a.RolloutGet(ctx, "messenger-ig-interop")
	rr, rerr := c.RolloutGet(ctx, "messenger-ig-interop")
	check("RolloutGet", lr, rr, lerr, rerr)
	le, lerr := a.Experiments(ctx)
	re, rerr := c.Experiments(ctx)
	check("Experiments", le, re, lerr, rerr)
	lm, lerr := a.Metrics(ctx)
	rm, rerr := c.Metrics(ctx)
	check("Metrics", lm, rm, lerr, rerr)
	lv, lerr := a.Revision(ctx)
	rv, rerr := c.Revision(ctx)
	check("Revision", lv, rv, lerr, rerr)

	snap, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local, err := a.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{"emp-1", "u1", "u2", "ig-3"} {
		evalCtx := map[string]any{"targetingKey": tk, "region": "US", "accountCenterId": "ac-" + tk}
		for _, key := range local.Keys() {
			l, r := local.Evaluate(key, evalCtx), snap.Evaluate(key, evalCtx)
			if l.Variant != r.Variant || l.Reason != r.Reason {
				t.Errorf("%s for %s: local %s/%s, remote %s/%s", key, tk, l.Variant, l.Reason, r.Variant, r.Reason)
			}
		}
	}
}

// TestErrorsMatchLocal: a refusal through the client is the error admin
// returns: same kind, same message, the same typed error for errors.As.
func TestErrorsMatchLocal(t *testing.T) {
	a, c, ctx := setup(t)
	type call func(Control) error
	cases := []struct {
		name string
		call call
		as   func(error) bool
	}{
		{"unknown flag", func(x Control) error { _, err := x.Flag(ctx, "nope"); return err }, nil},
		{"no plan", func(x Control) error { _, err := x.RolloutGet(ctx, "common-mailbox"); return err },
			func(err error) bool {
				var e *admin.NoPlanError
				return errors.As(err, &e) && e.Flag == "common-mailbox"
			}},
		{"unknown stage", func(x Control) error {
			_, err := x.Advance(ctx, admin.AdvanceRequest{Flag: "messenger-ig-interop", To: "nope", DryRun: true})
			return err
		}, func(err error) bool {
			var e *admin.StageError
			return errors.As(err, &e) && e.Stage == "nope" && len(e.Stages) == 7
		}},
		{"resume a running plan", func(x Control) error { _, err := x.Resume(ctx, "messenger-ig-interop"); return err }, nil},
		{"unknown cohort", func(x Control) error {
			_, err := x.AddMembers(ctx, admin.AddMembersRequest{Cohort: "employes", Members: []cohorts.Member{{ID: "u"}}})
			return err
		}, func(err error) bool {
			var e *admin.UnknownCohortError
			return errors.As(err, &e) && e.Suggestion == "employees"
		}},
	}
	for _, c2 := range cases {
		t.Run(c2.name, func(t *testing.T) {
			lerr := c2.call(a)
			rerr := c2.call(c)
			if lerr == nil || rerr == nil {
				t.Fatalf("local %v, remote %v", lerr, rerr)
			}
			if ramp.KindOf(lerr) != ramp.KindOf(rerr) || lerr.Error() != rerr.Error() {
				t.Errorf("local %v (%v), remote %v (%v)", lerr, ramp.KindOf(lerr), rerr, ramp.KindOf(rerr))
			}
			if c2.as != nil && !c2.as(rerr) {
				t.Errorf("remote %#v lacks the typed error", rerr)
			}
		})
	}
}

// Control is what both implementations answer (a part of cli.Control).
type Control interface {
	Flag(ctx context.Context, key string) (admin.FlagInfo, error)
	RolloutGet(ctx context.Context, flag string) (rollout.Rollout, error)
	Advance(ctx context.Context, req admin.AdvanceRequest) (admin.MoveResult, error)
	Resume(ctx context.Context, flag string) (admin.MoveResult, error)
	AddMembers(ctx context.Context, req admin.AddMembersRequest) (admin.MemberEdit, error)
}

// TestConfirmThroughTheClient: a move that takes the variant away is
// refused with a ConfirmError carrying the version to confirm on, and
// the confirmed move goes through with it; a stale confirmation is the
// changed-meanwhile conflict.
func TestConfirmThroughTheClient(t *testing.T) {
	_, c, ctx := setup(t)
	for range 2 {
		if _, err := c.Advance(ctx, admin.AdvanceRequest{Flag: "messenger-ig-interop"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Rollback(ctx, admin.RollbackRequest{Flag: "messenger-ig-interop"})
	var confirm *admin.ConfirmError
	if !errors.As(err, &confirm) || confirm.Move.Version == 0 || confirm.Question == "" {
		t.Fatalf("rollback unconfirmed: %#v", err)
	}
	if _, err := c.Pause(ctx, admin.PauseRequest{Flag: "messenger-ig-interop", Reason: "meanwhile"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Rollback(ctx, admin.RollbackRequest{Flag: "messenger-ig-interop", Confirmed: true, BaseVersion: confirm.Move.Version})
	var conflict *admin.ConflictError
	if !errors.As(err, &conflict) || ramp.KindOf(err) != ramp.KindConflict || !strings.Contains(err.Error(), "changed meanwhile") {
		t.Fatalf("stale confirmation: %#v", err)
	}
	res, err := c.Rollback(ctx, admin.RollbackRequest{Flag: "messenger-ig-interop", Confirmed: true, BaseVersion: conflict.Actual})
	if err != nil || res.To != "dogfood" {
		t.Fatalf("confirmed rollback: %+v, %v", res, err)
	}
}

// TestStreams: member exports and imports stream through the client.
func TestStreams(t *testing.T) {
	a, c, ctx := setup(t)
	var csv strings.Builder
	csv.WriteString("user_id,region\n")
	for i := range 20000 {
		csv.WriteString("u-" + strconv.Itoa(i) + ",FR\n")
	}
	var progress int
	res, err := c.ImportMembers(ctx, admin.ImportRequest{Cohort: "beta", Create: true, Source: strings.NewReader(csv.String()), File: "beta.csv",
		Progress: func(admin.ImportProgress) { progress++ }})
	if err != nil || res.Added != 20000 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if progress == 0 {
		t.Error("no progress reported")
	}
	var local, remote bytes.Buffer
	ln, lerr := a.ExportMembers(ctx, "beta", &local, admin.ExportOptions{})
	rn, rerr := c.ExportMembers(ctx, "beta", &remote, admin.ExportOptions{})
	if lerr != nil || rerr != nil || ln != rn || local.String() != remote.String() {
		t.Fatalf("export: local %d %v, remote %d %v", ln, lerr, rn, rerr)
	}
	if _, err := c.ExportMembers(ctx, "nope", &remote, admin.ExportOptions{}); ramp.KindOf(err) != ramp.KindNotFound {
		t.Errorf("export of an unknown cohort: %v", err)
	}
	var doc bytes.Buffer
	if _, err := c.Export(ctx, &doc, "yaml"); err != nil || !strings.Contains(doc.String(), "messenger-ig-interop") {
		t.Errorf("export: %v", err)
	}
}

// TestUnauthorized: a wrong token is refused as unauthorized.
func TestUnauthorized(t *testing.T) {
	_, c, ctx := setup(t)
	bad, err := client.New(c.Server(), "mallory", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Flags(ctx); ramp.KindOf(err) != ramp.KindUnauthorized {
		t.Errorf("wrong token: %v", err)
	}
	for _, u := range []string{"ftp://x", "http://", "http://u:p@host", "http://h/?token=x"} {
		if _, err := client.New(u, "t", client.Options{}); ramp.KindOf(err) != ramp.KindInvalid {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

// TestReportMatchesLocal: an experiment's report, with its series for
// charts, reads the same through the client (the CLI draws --plot from
// it).
func TestReportMatchesLocal(t *testing.T) {
	a, c, ctx := setup(t)
	x, err := a.Experiment(ctx, "dm-handoff-vs-inline")
	if err != nil || len(x.Phases) == 0 {
		t.Fatalf("experiment: %+v, %v", x, err)
	}
	start := x.Phases[0].Started
	var exps []tracking.Exposure
	var evs []tracking.Event
	arms := []string{"off", "handoff", "inline"}
	for i := range 600 {
		unit, at := "ac-"+strconv.Itoa(i), start.Add(time.Duration(i)*time.Millisecond)
		exps = append(exps, tracking.Exposure{Experiment: x.Key, Phase: 1, UnitAttr: "accountCenterId", Unit: unit, Arm: arms[i%3],
			Flag: "ig-dm-via-whatsapp", Time: at})
		for j := range i%3 + i%2 {
			evs = append(evs, tracking.Event{ID: unit + "-" + strconv.Itoa(j), Name: "dm_reply", Value: 1, Time: at.Add(time.Hour),
				Units: map[string]string{"accountCenterId": unit}})
		}
	}
	if err := a.WriteExposures(ctx, exps); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	req := admin.ReportRequest{Key: "dm-handoff-vs-inline", Series: true, Compact: true}
	local, lerr := a.Report(ctx, req)
	remote, rerr := c.Report(ctx, req)
	if (lerr == nil) != (rerr == nil) {
		t.Fatalf("local %v, remote %v", lerr, rerr)
	}
	if lerr != nil {
		t.Fatalf("local %v, remote %v", lerr, rerr)
	}
	if len(local.Metrics) == 0 {
		t.Fatalf("an empty report: %+v", local)
	}
	if d := cmp.Diff(local, remote, cmpopts.EquateEmpty(), cmpopts.EquateNaNs(), cmpopts.EquateApproxTime(time.Minute)); d != "" {
		t.Errorf("report differs (-local +remote):\n%s", d)
	}
}

// TestWaitsOutTheRateLimit: a request past the server's rate limit is
// sent again after the wait the server names, so that a script's burst
// succeeds instead of failing half-way; the server saw the refusals.
func TestWaitsOutTheRateLimit(t *testing.T) {
	a, _, _ := setup(t)
	var refused atomic.Int64
	h, err := api.New(api.Config{Admin: a, Auth: one{}, RateLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusTooManyRequests {
			refused.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "alice", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Flags(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if refused.Load() == 0 {
		t.Error("three calls in a row at 1 a second: the server refused none, so nothing was waited out")
	}
}
