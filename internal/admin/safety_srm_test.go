package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// srmDoc declares dm running, half off and half inline.
var srmDoc = expFile("traffic: 20", `arms: {"off": 50, inline: 50}`, "status: running")

// expose stores exposures of dm's phase 1: n units of each arm, numbered
// from first.
func expose(t *testing.T, a *admin.Service, first int, counts map[string]int) {
	t.Helper()
	var batch []tracking.Exposure
	i := first
	for _, arm := range []string{"off", "inline"} {
		for range counts[arm] {
			batch = append(batch, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: tracking.TargetingKey,
				Unit: fmt.Sprintf("u%d", i), Arm: arm, Flag: "dm", Time: t0})
			i++
		}
	}
	if err := a.WriteExposures(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// srmTick runs the schedule's pass and returns its sample-ratio events.
func srmTick(t *testing.T, a *admin.Service) []admin.SampleRatioEvent {
	t.Helper()
	res, err := a.Tick(alice)
	if err != nil {
		t.Fatal(err)
	}
	return res.SampleRatios
}

func status(t *testing.T, a *admin.Service) admin.ExperimentInfo {
	t.Helper()
	info, err := a.Experiment(alice, "dm")
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// srmEntries returns dm's audit entries with the given action.
func srmEntries(t *testing.T, s *store.Store, action string) []store.AuditEntry {
	t.Helper()
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "experiment", Target: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// TestSampleRatioAutoPause: a phase whose exposures contradict its
// weights is paused by one pass of the schedule, as the scheduler, with
// the counts and the p-value in the pause's reason, in the audit log and in
// the experiment's status; a person may resume it, which overrides the
// check for the phase and says so.
func TestSampleRatioAutoPause(t *testing.T) {
	a, s, set := rampClock(t)
	mustApply(t, a, srmDoc)
	expose(t, a, 0, map[string]int{"off": 2600, "inline": 3400})

	events := srmTick(t, a)
	if len(events) != 1 || !events[0].Paused || !events[0].Check.Pause {
		t.Fatalf("events %+v; want dm paused", events)
	}
	info := status(t, a)
	if info.Status != experiment.Paused || info.Pause == nil || info.Pause.By != rollout.Scheduler || !info.Pause.At.Equal(t0) {
		t.Fatalf("status %s, pause %+v; want paused by %s at %v", info.Status, info.Pause, rollout.Scheduler, t0)
	}
	for _, frag := range []string{"sample ratio mismatch in phase 1", "off 2,600 units (43.33%, expected 50.00%)", "inline 3,400 (56.67%, expected 50.00%)", "anytime-valid p = "} {
		if !strings.Contains(info.Pause.Reason, frag) {
			t.Errorf("reason %q lacks %q", info.Pause.Reason, frag)
		}
	}
	srm := info.SampleRatio
	if srm == nil || !srm.At.Equal(t0) || srm.Units != 6000 || len(srm.Arms) != 2 || srm.Arms[0].Units != 2600 || srm.MinP >= 0.001 || !srm.Enough || !srm.Pause {
		t.Fatalf("last check %+v; want 2,600 and 3,400 units at %v, p < 0.001", srm, t0)
	}
	// The audit log has the pause, by the scheduler, with the reason.
	paused := srmEntries(t, s, "experiment.pause.srm")
	if len(paused) != 1 || paused[0].Actor != rollout.Scheduler {
		t.Fatalf("pause entries %+v; want one by the scheduler", paused)
	}
	var after experiment.Experiment
	if err := json.Unmarshal(paused[0].After, &after); err != nil || after.Status != experiment.Paused || after.PauseReason != info.Pause.Reason {
		t.Errorf("audited after: %+v, %v; want paused with the reason", after, err)
	}
	// A paused experiment is not checked again.
	set(t0.Add(time.Hour))
	if events := srmTick(t, a); len(events) != 0 {
		t.Errorf("events while paused: %+v", events)
	}

	// A person resumes it: the result says what is overridden, the audit
	// log records the override, and the check no longer pauses the phase.
	res, err := a.ResumeExperiment(alice, "dm")
	if err != nil {
		t.Fatal(err)
	}
	if res.Overrode != info.Pause.Reason || res.Experiment.Pause != nil {
		t.Errorf("resume: overrode %q, pause %+v; want the reason overridden and no pause", res.Overrode, res.Experiment.Pause)
	}
	if got := srmEntries(t, s, "experiment.resume.override"); len(got) != 1 || got[0].Actor != "alice" {
		t.Errorf("override entries %+v; want one by alice", got)
	}
	set(t0.Add(2 * time.Hour))
	events = srmTick(t, a)
	if len(events) != 1 || events[0].Paused || !events[0].Overridden {
		t.Fatalf("events after the override: %+v; want checked, overridden, not paused", events)
	}
	if info := status(t, a); info.Status != experiment.Running || info.SampleRatio == nil || !info.SampleRatio.Overridden {
		t.Errorf("after the override: %s, last check %+v", info.Status, info.SampleRatio)
	}
	// Pausing and resuming by hand is no override.
	if _, err := a.PauseExperiment(alice, "dm"); err != nil {
		t.Fatal(err)
	}
	if info := status(t, a); info.Pause == nil || info.Pause.By != "alice" || info.Pause.Reason != "" {
		t.Errorf("paused by hand: %+v", info.Pause)
	}
	if res, err := a.ResumeExperiment(alice, "dm"); err != nil || res.Overrode != "" {
		t.Errorf("resume by hand: overrode %q, %v", res.Overrode, err)
	}
	if got := srmEntries(t, s, "experiment.resume"); len(got) != 1 {
		t.Errorf("%d plain resume entries, want 1", len(got))
	}
}

// TestSampleRatioSound: a phase whose exposures match its weights is
// checked and left running; a second pass within CheckEvery does not
// check again, a pass after it does.
func TestSampleRatioSound(t *testing.T) {
	a, _, set := rampClock(t)
	mustApply(t, a, srmDoc)
	expose(t, a, 0, map[string]int{"off": 3010, "inline": 2990})
	events := srmTick(t, a)
	if len(events) != 1 || events[0].Paused || events[0].Check.Pause || !events[0].Check.Enough {
		t.Fatalf("events %+v; want a check that does not pause", events)
	}
	info := status(t, a)
	if info.Status != experiment.Running || info.SampleRatio == nil || info.SampleRatio.P < 0.5 || info.SampleRatio.Units != 6000 {
		t.Fatalf("status %s, last check %+v; want running, p near 1", info.Status, info.SampleRatio)
	}
	set(t0.Add(admin.DefaultCheckEvery - time.Second))
	if events := srmTick(t, a); len(events) != 0 {
		t.Errorf("events within CheckEvery: %+v", events)
	}
	set(t0.Add(admin.DefaultCheckEvery))
	if events := srmTick(t, a); len(events) != 1 {
		t.Errorf("events after CheckEvery: %+v; want one check", events)
	}
}

// TestSampleRatioRunningMinimum: the anytime-valid p-value is the least
// of the phase's checks, kept in the store: evidence seen before the
// minimum sample pauses once the sample is there, even if the counts have
// evened out since.
func TestSampleRatioRunningMinimum(t *testing.T) {
	a, _, set := rampClock(t)
	a.Safety.MinSample = 2000
	mustApply(t, a, srmDoc)
	expose(t, a, 0, map[string]int{"off": 1800, "inline": 1200})
	events := srmTick(t, a)
	if len(events) != 1 || events[0].Paused || events[0].Check.Enough || events[0].Check.MinP >= 0.001 {
		t.Fatalf("first check %+v; want p < 0.001 but not enough units to pause", events)
	}
	// The counts even out: 3,000 each, p = 1 now.
	expose(t, a, 3000, map[string]int{"off": 1200, "inline": 1800})
	set(t0.Add(time.Hour))
	events = srmTick(t, a)
	if len(events) != 1 || !events[0].Paused || events[0].Check.P < 0.5 || !strings.Contains(events[0].Check.Reason, "the least of the phase's checks") {
		t.Fatalf("second check %+v; want paused on the earlier p-value", events)
	}
}

// TestSampleRatioPausedOnce: servers ticking together over one database
// pause a condemned experiment once.
func TestSampleRatioPausedOnce(t *testing.T) {
	a, s, dsn := openDSN(t)
	s.Now = func() time.Time { return t0 }
	mustApply(t, a, srmDoc)
	expose(t, a, 0, map[string]int{"off": 2600, "inline": 3400})
	servers := []*admin.Service{a}
	for range 3 {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		st.Now = s.Now
		servers = append(servers, admin.New(st))
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		pauses int
	)
	for _, srv := range servers {
		wg.Go(func() {
			res, err := srv.Tick(alice)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range res.SampleRatios {
				if e.Paused {
					pauses++
				}
			}
		})
	}
	wg.Wait()
	if got := srmEntries(t, s, "experiment.pause.srm"); pauses != 1 || len(got) != 1 {
		t.Fatalf("%d passes paused dm, %d pause entries; want 1 and 1", pauses, len(got))
	}
	if info := status(t, a); info.Status != experiment.Paused {
		t.Errorf("status %s; want paused", info.Status)
	}
}

// TestSampleRatioNewPhaseWhilePaused: a phase started while the check's
// pause holds is checked afresh: resuming it overrides nothing.
func TestSampleRatioNewPhaseWhilePaused(t *testing.T) {
	a, s, _ := rampClock(t)
	mustApply(t, a, srmDoc)
	expose(t, a, 0, map[string]int{"off": 2600, "inline": 3400})
	if events := srmTick(t, a); len(events) != 1 || !events[0].Paused {
		t.Fatalf("events %+v; want dm paused", events)
	}
	if _, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", NewPhase: true, Confirmed: true,
		Arms: []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "inline", Weight: 5000}}}); err != nil {
		t.Fatal(err)
	}
	res, err := a.ResumeExperiment(alice, "dm")
	if err != nil {
		t.Fatal(err)
	}
	if res.Overrode != "" || res.Experiment.Phase != 2 {
		t.Errorf("resume in phase %d overrode %q; want nothing overridden in phase 2", res.Experiment.Phase, res.Overrode)
	}
	if got := srmEntries(t, s, "experiment.resume.override"); len(got) != 0 {
		t.Errorf("override entries %+v", got)
	}
}
