package rollout_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// TestPercentInJSON: issue #10 item 5, "percent" is basis points in JSON.
// Stages, grants and steps write 1 for 1% and 12.5 for 12.5%, and read
// back what they write.
func TestPercentInJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"stage 1%", rollout.Stage{Name: "us-1", Regions: []string{"US"}, Percent: 100}, `"percent":1}`},
		{"stage 12.5%", rollout.Stage{Name: "s", Percent: 1250}, `"percent":12.5}`},
		{"stage 0.01%", rollout.Stage{Name: "s", Percent: 1}, `"percent":0.01}`},
		{"grant 100%", rollout.Grant{Target: rollout.Target{Cohort: "employees"}, Percent: flags.Hundred, SetBy: "dogfood", Since: "dogfood"}, `"percent":100}`},
		{"step", rollout.Step{Target: rollout.Target{Region: "US"}, From: 5000, To: 4000}, `"from":50,"to":40}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(b), tt.want) {
				t.Errorf("got %s, want it to end in %s", b, tt.want)
			}
			switch v := tt.v.(type) {
			case rollout.Stage:
				var got rollout.Stage
				if err := json.Unmarshal(b, &got); err != nil || got.Percent != v.Percent || got.Name != v.Name {
					t.Errorf("read back %+v (%v), want %+v", got, err, v)
				}
			case rollout.Grant:
				var got rollout.Grant
				if err := json.Unmarshal(b, &got); err != nil || got.Percent != v.Percent || got.SetBy != v.SetBy || got.Target.String() != v.Target.String() {
					t.Errorf("read back %+v (%v), want %+v", got, err, v)
				}
			case rollout.Step:
				var got rollout.Step
				if err := json.Unmarshal(b, &got); err != nil || got.From != v.From || got.To != v.To {
					t.Errorf("read back %+v (%v), want %+v", got, err, v)
				}
			}
		})
	}
	var s rollout.Stage
	if err := json.Unmarshal([]byte(`{"name":"s","percent":101}`), &s); err == nil {
		t.Errorf("101%% read as %v", s.Percent)
	}
}
