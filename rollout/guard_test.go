package rollout_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

func margin(m float64) *float64 { return &m }

// guarded is the scenario's plan with us-10 and na-25 guarded.
func guarded() rollout.Plan {
	p := interop()
	p.Stages[2].Guardrails = []rollout.Guardrail{{Metric: "send-errors-per-message"}, {Metric: "crash-rate", Margin: margin(1)}}
	p.Stages[2].MinSample = 1000
	p.Stages[5].Guardrails = []rollout.Guardrail{{Metric: "crash-rate"}}
	p.Stages[5].OnRegression = rollout.ReactRollback
	return p
}

// TestGuardedStageRules: while a guarded stage is live, the rules of the
// targets it sets carry its phase, the plan's experiment key and the
// flag's bucketBy; the targets earlier stages set do not; an unguarded
// stage's rules carry no phase.
func TestGuardedStageRules(t *testing.T) {
	p := guarded()
	type origin struct {
		rule       string
		phase      int
		experiment string
	}
	tests := []struct {
		live int
		want []origin
	}{
		{1, []origin{{"rollout:dogfood cohort employees", 0, ""}, {"rollout:us-1 region US", 0, ""}}},
		{2, []origin{{"rollout:dogfood cohort employees", 0, ""}, {"rollout:us-10 region US", 3, "rollout:messenger-ig-interop"}}},
		{3, []origin{{"rollout:dogfood cohort employees", 0, ""}, {"rollout:us-50 region US", 0, ""}}},
		{5, []origin{{"rollout:dogfood cohort employees", 0, ""}, {"rollout:us-100 region US", 0, ""},
			{"rollout:na-25 region CA", 6, "rollout:messenger-ig-interop"}, {"rollout:na-25 region MX", 6, "rollout:messenger-ig-interop"}}},
	}
	for _, tt := range tests {
		r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: p.Stages[tt.live].Name}}
		st := rollout.Apply(world(), []rollout.Rollout{r})
		var got []origin
		for _, rule := range st.Flags[0].Rules {
			o := rule.Origin
			got = append(got, origin{rule.Name, o.Phase, o.Experiment})
			if o.Exposes() != (o.Phase > 0) {
				t.Errorf("stage %d, %s: Exposes %v with phase %d", tt.live, rule.Name, o.Exposes(), o.Phase)
			}
			if wantUnit := map[bool]string{true: "accountCenterId", false: ""}[o.Phase > 0]; o.Unit != wantUnit {
				t.Errorf("stage %d, %s: unit %q; want %q", tt.live, rule.Name, o.Unit, wantUnit)
			}
		}
		if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(origin{})); d != "" {
			t.Errorf("live %s (-want +got):\n%s", p.Stages[tt.live].Name, d)
		}
	}
}

// TestGuardedSplitRecordsBothSides: a guarded stage's decisions name the
// phase and the arm on both sides of its split (Metadata), the variant for
// the stage's percentage and the default for the rest, and only for the
// users of its own targets.
func TestGuardedSplitRecordsBothSides(t *testing.T) {
	p := guarded()
	r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: "us-10"}}
	snap, err := flags.Compile(rollout.Apply(world(), []rollout.Rollout{r}), 1)
	if err != nil {
		t.Fatal(err)
	}
	arms := map[any]int{}
	for i := range 20000 {
		ctx := map[string]any{"targetingKey": fmt.Sprint("u", i), "accountCenterId": fmt.Sprint("ac-", i), "region": "US"}
		d := snap.Evaluate("messenger-ig-interop", ctx)
		md := d.Metadata()
		if md["experiment"] != "rollout:messenger-ig-interop" || md["phase"] != 3 || md["arm"] != d.Variant {
			t.Fatalf("decision %+v: metadata %v", d, md)
		}
		arms[md["arm"]]++
	}
	if share := float64(arms["on"]) / 20000; share < 0.09 || share > 0.11 {
		t.Errorf("%.3f of the stage's users get the variant; want about 10%%", share)
	}
	// Outside the stage's targets: no exposure.
	d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "fr-1", "region": "FR"})
	if d.Origin.Exposes() || d.Metadata()["experiment"] != nil {
		t.Errorf("a user outside the stage: %+v", d.Metadata())
	}
}

func TestMayLeave(t *testing.T) {
	p := guarded()
	at := func(stage string) *rollout.Rollout {
		return &rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: stage}}
	}
	tests := []struct {
		r      *rollout.Rollout
		sample rollout.Sample
		refuse bool
	}{
		{at(""), rollout.Sample{}, false},
		{at("us-1"), rollout.Sample{}, false},
		{at("us-10"), rollout.Sample{Treatment: 999, Control: 50000}, true},
		{at("us-10"), rollout.Sample{Treatment: 1000, Control: 999}, true},
		{at("us-10"), rollout.Sample{Treatment: 1000, Control: 9000}, false},
		{at("na-25"), rollout.Sample{}, false}, // guarded without a minimum sample
	}
	for _, tt := range tests {
		err := tt.r.MayLeave(tt.sample)
		if (err != nil) != tt.refuse {
			t.Errorf("stage %q with %+v: %v; want refused %v", tt.r.Progress.Stage, tt.sample, err, tt.refuse)
		}
		if err != nil {
			var se *rollout.SampleError
			if !errors.Is(err, rollout.ErrMove) || !errors.As(err, &se) || se.MinSample != 1000 {
				t.Errorf("refusal %v does not match ErrMove with its sample", err)
			}
			if !strings.Contains(err.Error(), "stage us-10 of rollout messenger-ig-interop waits for its guardrails' data") {
				t.Errorf("refusal says %q", err)
			}
		}
	}
}

// TestHalt: a halt pauses the plan, or rolls it back to the previous stage
// and pauses it, with the reason, and records itself; the controller does
// not judge the halted stage again once a person resumes it, until it is
// left and reached again.
func TestHalt(t *testing.T) {
	p := guarded()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: "us-10", Since: t0, By: "alice"}}
	if !r.Judged() {
		t.Fatal("live guarded stage not judged")
	}
	t1 := t0.Add(time.Hour)
	prog, err := r.Halt(rollout.Scheduler, t1, "crash-rate regressed")
	if err != nil {
		t.Fatal(err)
	}
	want := rollout.Progress{Stage: "us-10", Since: t0, By: "alice", Paused: true, PausedBy: rollout.Scheduler, PausedAt: t1, PauseReason: "crash-rate regressed",
		Halted: &rollout.Halt{Stage: "us-10", At: t1, Reason: "crash-rate regressed"}}
	if d := cmp.Diff(want, prog); d != "" {
		t.Fatalf("halt with pause (-want +got):\n%s", d)
	}
	r.Progress = prog
	if r.Judged() {
		t.Error("a paused plan is judged")
	}
	// A person resumes: the halt is overridden for this stage.
	r.Progress, _ = r.Resume()
	if r.Judged() {
		t.Error("a halted stage resumed by a person is judged again")
	}
	// Left and reached again: judged.
	r.Progress, _, _ = r.Advance(3, "alice", t1.Add(time.Hour))
	r.Progress, _ = r.Rollback(2, "alice", t1.Add(2*time.Hour), "")
	r.Progress, _ = r.Resume()
	if !r.Judged() {
		t.Error("a stage reached again after its halt is not judged")
	}

	// na-25 rolls back to us-100.
	r = rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: "na-25", Since: t0}}
	prog, err = r.Halt(rollout.Scheduler, t1, "crash-rate regressed")
	if err != nil {
		t.Fatal(err)
	}
	if prog.Stage != "us-100" || !prog.Paused || prog.PauseReason != "crash-rate regressed" || prog.Halted == nil || !prog.Halted.RolledBack || prog.Halted.Stage != "na-25" {
		t.Errorf("halt with rollback: %+v (halt %+v)", prog, prog.Halted)
	}
	// The previous stage is not guarded: nothing to judge there.
	r.Progress = prog
	if r.Judged() {
		t.Error("us-100 judged")
	}
}

func TestValidateGuards(t *testing.T) {
	tests := []struct {
		edit func(s *rollout.Stage)
		path string // "" when valid
		msg  string
	}{
		{func(s *rollout.Stage) {}, "", ""},
		{func(s *rollout.Stage) { s.Guardrails = append(s.Guardrails, rollout.Guardrail{Metric: "crash-rate"}) }, "stages[2].guardrails[2].metric", "already a guardrail"},
		{func(s *rollout.Stage) { s.Guardrails[0].Metric = "" }, "stages[2].guardrails[0].metric", "metric key"},
		{func(s *rollout.Stage) { s.Guardrails[1].Margin = margin(-1) }, "stages[2].guardrails[1].margin", "0 or more"},
		{func(s *rollout.Stage) { s.Percent = 0; s.Decrease = true }, "stages[2].guardrails", "needs a percentage between 0 and 100"},
		{func(s *rollout.Stage) { s.Guardrails = nil }, "stages[2].minSample", "names no guardrails"},
		{func(s *rollout.Stage) { s.MinSample = -1 }, "stages[2].minSample", "negative"},
		{func(s *rollout.Stage) { s.OnRegression = "explode" }, "stages[2].onRegression", "want pause or rollback"},
		{func(s *rollout.Stage) { s.Guardrails, s.MinSample, s.OnRegression = nil, 0, rollout.ReactPause }, "stages[2].onRegression", "names no guardrails"},
	}
	for i, tt := range tests {
		p := guarded()
		tt.edit(&p.Stages[2])
		err := rollout.Validate([]rollout.Plan{p}, ptr(world()))
		if tt.path == "" {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		var ve *flags.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "rollouts[0]."+tt.path || !strings.Contains(ve.Problems[0].Message, tt.msg) {
			t.Errorf("%d: %v; want one problem at %s saying %q", i, err, tt.path, tt.msg)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestGuardedStageJSON: a stage's guardrails, minimum sample and reaction
// survive JSON (status, the audit log) with its percentage in percent.
func TestGuardedStageJSON(t *testing.T) {
	s := guarded().Stages[2]
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"percent":10`, `"guardrails":[{"metric":"send-errors-per-message"},{"metric":"crash-rate","margin":1}]`, `"minSample":1000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back rollout.Stage
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if got := s.GuardWords(); got != "send-errors-per-message, crash-rate (margin 1%); at least 1000 units each side; on regression pause" {
		t.Errorf("GuardWords = %q", got)
	}
}
