package experiment_test

import (
	"errors"
	"testing"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
)

func TestCheckAllocation(t *testing.T) {
	l := experiment.Layer{Key: "msg", Holdout: 500}
	arms := []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "on", Weight: 5000}}
	table := []flags.VariantRange{{From: 0, To: 2500, Variant: "off"}, {From: 2500, To: 5000, Variant: "on"}, {From: 5000, To: 7500, Variant: "off"}, {From: 7500, To: 10000, Variant: "on"}}
	other := experiment.Experiment{Key: "other", Layer: "msg", Status: experiment.Running,
		Phases: []experiment.Phase{{Number: 1, Buckets: []flags.BucketRange{{From: 500, To: 1500}}}}}
	tests := []struct {
		name    string
		buckets []flags.BucketRange
		table   []flags.VariantRange
		hold    bool
		want    error
	}{
		{name: "non-contiguous, free", buckets: []flags.BucketRange{{From: 1500, To: 2000}, {From: 3000, To: 3500}}, table: table, hold: true},
		{name: "traffic not the bucket count", buckets: []flags.BucketRange{{From: 1500, To: 2000}}, table: table, want: experiment.ErrInvalid},
		{name: "unsorted buckets", buckets: []flags.BucketRange{{From: 3000, To: 3500}, {From: 1500, To: 2000}}, table: table, want: experiment.ErrInvalid},
		{name: "beyond the scale", buckets: []flags.BucketRange{{From: 9900, To: 10900}}, table: table, want: experiment.ErrInvalid},
		{name: "a gap in the table", buckets: []flags.BucketRange{{From: 1500, To: 2500}}, table: table[1:], want: experiment.ErrInvalid},
		{name: "shares that are not the weights", buckets: []flags.BucketRange{{From: 1500, To: 2500}},
			table: []flags.VariantRange{{From: 0, To: 6000, Variant: "off"}, {From: 6000, To: 10000, Variant: "on"}}, want: experiment.ErrInvalid},
		{name: "the holdout", buckets: []flags.BucketRange{{From: 0, To: 1000}}, table: table, hold: true, want: experiment.ErrLayerFull},
		{name: "another experiment's buckets", buckets: []flags.BucketRange{{From: 1000, To: 2000}}, table: table, hold: true, want: experiment.ErrLayerFull},
		{name: "stopped: the layer is not checked", buckets: []flags.BucketRange{{From: 1000, To: 2000}}, table: table},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := experiment.Phase{Number: 2, Traffic: 1000, Arms: arms, Buckets: tt.buckets, Table: tt.table}
			err := experiment.CheckAllocation(l, []experiment.Experiment{other}, "x", &p, tt.hold)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("CheckAllocation = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSameAllocation(t *testing.T) {
	a := experiment.Phase{Buckets: []flags.BucketRange{{From: 0, To: 100}, {From: 100, To: 200}},
		Table: []flags.VariantRange{{From: 5000, To: 10000, Variant: "on"}, {From: 0, To: 2500, Variant: "off"}, {From: 2500, To: 5000, Variant: "off"}}}
	b := experiment.Phase{Buckets: []flags.BucketRange{{From: 0, To: 200}},
		Table: []flags.VariantRange{{From: 0, To: 5000, Variant: "off"}, {From: 5000, To: 10000, Variant: "on"}}}
	if !experiment.SameAllocation(&a, &b) {
		t.Error("SameAllocation = false for the same buckets and table split otherwise")
	}
	b.Table[0].Variant = "on"
	if experiment.SameAllocation(&a, &b) {
		t.Error("SameAllocation = true for another table")
	}
}
