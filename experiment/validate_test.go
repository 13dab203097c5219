package experiment_test

import (
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
)

func TestValidateScenario(t *testing.T) {
	st := scenario()
	exps := []experiment.Experiment{dmExperiment(2000), ttlExperiment()}
	if ps := experiment.Validate(&st, []experiment.Layer{crossApp}, exps); len(ps) != 0 {
		t.Errorf("the scenario has problems: %v", ps)
	}
	// Running, with a layer bucketBy other than the flag's (allowed).
	start(t, crossApp, exps[:1])
	exps[1].Flag = "common-mailbox"
	exps[1].Arms, exps[1].Control = arms("on", 5000, "off", 5000), "off"
	if ps := experiment.Validate(&st, []experiment.Layer{crossApp}, exps); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}

// TestValidateProblems: each case changes the scenario's layers and
// experiments one way and expects one problem at one path, whose message
// says the words listed.
func TestValidateProblems(t *testing.T) {
	running := func(e experiment.Experiment, l experiment.Layer) experiment.Experiment {
		t.Helper()
		if err := e.Start(l, nil, t0, "ana"); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name   string
		change func(ls *[]experiment.Layer, es *[]experiment.Experiment)
		path   string
		says   []string
	}{
		{"unknown flag", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Flag = "ig-dm" },
			"experiments[0].flag", []string{`unknown flag "ig-dm"`}},
		{"no flag", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Flag = "" },
			"experiments[0].flag", []string{"flag is required"}},
		{"unknown layer", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Layer = "messaging" },
			"experiments[0].layer", []string{`unknown layer "messaging"`, "known layers: cross-app-messaging"}},
		{"unknown arm", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Arms[2].Variant = "inbox" },
			"experiments[0].arms.inbox", []string{`unknown arm "inbox"`, "flag ig-dm-via-whatsapp (string) has variants off (\"off\"), handoff (\"handoff\"), inline (\"inline\")"}},
		{"an arm written as the value of a variant", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Arms[0].Variant = "300" },
			"experiments[1].arms.300", []string{`arm "300" is a value, not a variant`, "did you mean short?", "(integer) has variants short (300), long (600)"}},
		{"an arm written as a value the flag does not have", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Arms[0].Variant = "900" },
			"experiments[1].arms.900", []string{`arm "900" looks like a value`, "(integer) has variants short (300), long (600)"}},
		{"an arm whose type does not match the flag", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Arms[0].Variant = "true" },
			"experiments[1].arms.true", []string{`arm "true" looks like a boolean value, which does not fit the flag's type`, "(integer)"}},
		{"weights not summing to 100", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Arms[0].Weight = 3000 },
			"experiments[0].arms", []string{"weights sum to 96%, not 100"}},
		{"an arm twice", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[1].Arms = arms("short", 5000, "short", 5000)
			(*es)[1].Control = "short"
		}, "experiments[1].arms.short", []string{`arm "short" appears twice`}},
		{"fewer than two arms", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Arms = arms("long", 10000) },
			"experiments[1].arms", []string{"1 arm(s); an experiment compares at least 2"}},
		{"a control that is not an arm", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Control = "default" },
			"experiments[0].control", []string{`control "default" is not an arm (arms: off, handoff, inline)`}},
		{"no control", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Control = "" },
			"experiments[0].control", []string{"control is required"}},
		{"traffic 0", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Traffic = 0 },
			"experiments[0].traffic", []string{"traffic 0% is outside 0–100"}},
		{"traffic above 100", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Traffic = 10100 },
			"experiments[1].traffic", []string{"traffic 101% is outside 0–100"}},
		{"unknown cohort", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[0].Audience.Cohorts = []string{"linked"}
		},
			"experiments[0].audience.cohorts[0]", []string{`unknown cohort "linked"`}},
		{"unknown region", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[1].Audience.Regions = []string{"BR", "XX"}
		},
			"experiments[1].audience.regions[1]", []string{"XX"}},
		{"invalid condition", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[0].Audience.When = []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"three hundred"}}}
		}, "experiments[0].audience.when[0]", []string{"three hundred"}},
		{"duplicate experiment", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Key = (*es)[0].Key },
			"experiments[1].key", []string{`duplicate experiment "dm-handoff-vs-inline" (also experiments[0])`}},
		{"invalid experiment key", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Key = "link code" },
			"experiments[1].key", []string{"experiment"}},
		{"duplicate layer", func(ls *[]experiment.Layer, _ *[]experiment.Experiment) { *ls = append(*ls, crossApp) },
			"layers[1].key", []string{`duplicate layer "cross-app-messaging" (also layers[0])`}},
		{"holdout of 100", func(ls *[]experiment.Layer, es *[]experiment.Experiment) {
			(*ls)[0].Holdout = flags.Hundred
			*es = (*es)[1:]
		}, "layers[0].holdout", []string{"holdout 100% is outside 0–100"}},
		{"a salt with the separator", func(ls *[]experiment.Layer, _ *[]experiment.Experiment) { (*ls)[0].Salt = "a:b" },
			"layers[0].salt", []string{"must not contain ':'"}},
		{"an experiment salt with the separator", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Salt = "a:b" },
			"experiments[1].salt", []string{"must not contain ':'"}},
		{"two experiments of one layer over 100 with the holdout", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			inbox := inboxExperiment(4000)
			(*es)[0].Traffic = 6000
			*es = append(*es, inbox)
		}, "experiments[2].traffic", []string{"layer cross-app-messaging is over-full", "its holdout 5%", "dm-handoff-vs-inline (experiments[0], 60%)", "this experiment's 40% make 105%"}},
		{"one experiment over 100 with the holdout", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[0].Traffic = 9600 },
			"experiments[0].traffic", []string{"traffic 96% and layer cross-app-messaging's holdout 5% exceed 100%"}},
		{"two experiments on one flag running in different layers", func(ls *[]experiment.Layer, es *[]experiment.Experiment) {
			other := experiment.Layer{Key: "other", BucketBy: "accountCenterId"}
			*ls = append(*ls, other)
			second := dmExperiment(2000)
			second.Key, second.Layer = "dm-second", other.Key
			*es = []experiment.Experiment{running((*es)[0], crossApp), (*es)[1], running(second, other)}
		}, "experiments[2].flag", []string{"flag ig-dm-via-whatsapp is already decided by experiment dm-handoff-vs-inline (experiments[0], layer cross-app-messaging, running)", "dm-second in layer other cannot run at the same time"}},
		{"overlapping buckets", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			a := running((*es)[0], crossApp)
			b := running(inboxExperiment(1000), crossApp) // started without a as another: the same buckets
			*es = []experiment.Experiment{a, (*es)[1], b}
		}, "experiments[2].phases[0].buckets", []string{"the buckets of inbox-tools overlap", "(dm-handoff-vs-inline)"}},
		{"a shipped arm on a running experiment", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[0] = running((*es)[0], crossApp)
			(*es)[0].Shipped = "inline"
		}, "experiments[0].shipped", []string{"only a stopped experiment ships an arm; this one is running"}},
		{"a shipped arm that is not an arm", func(_ *[]experiment.Layer, es *[]experiment.Experiment) {
			(*es)[1].Status, (*es)[1].Shipped = experiment.Stopped, "medium"
		}, "experiments[1].shipped", []string{`shipped arm "medium" is not an arm (arms: short, long)`}},
		{"running without a phase", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Status = experiment.Running },
			"experiments[1].status", []string{"a running experiment needs a phase"}},
		{"unknown status", func(_ *[]experiment.Layer, es *[]experiment.Experiment) { (*es)[1].Status = "done" },
			"experiments[1].status", []string{`unknown status "done"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := scenario()
			ls := []experiment.Layer{crossApp}
			es := []experiment.Experiment{dmExperiment(2000), ttlExperiment()}
			tt.change(&ls, &es)
			ps := experiment.Validate(&st, ls, es)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1 at %s: %v", len(ps), tt.path, ps)
			}
			if ps[0].Path != tt.path {
				t.Errorf("path %s, want %s (%s)", ps[0].Path, tt.path, ps[0].Message)
			}
			for _, s := range tt.says {
				if !strings.Contains(ps[0].Message, s) {
					t.Errorf("message %q does not say %q", ps[0].Message, s)
				}
			}
			if err := experiment.ValidationError(ps); err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("ValidationError = %v, want it to name %s", err, tt.path)
			}
		})
	}
}
