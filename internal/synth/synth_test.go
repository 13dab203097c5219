package synth_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/synth"
)

func TestUsersDeterministicAndShaped(t *testing.T) {
	a, b := synth.Users(10000, 7), synth.Users(10000, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different users:\n%s", diff)
	}
	if len(a) != 10000 {
		t.Fatalf("got %d users", len(a))
	}
	if a[0]["targetingKey"] != "emp-1" {
		t.Errorf("first user = %v, want an employee", a[0]["targetingKey"])
	}
	linked := map[any][]map[string]any{}
	keys := map[any]bool{}
	for _, u := range a {
		if keys[u["targetingKey"]] {
			t.Fatalf("duplicate targetingKey %v", u["targetingKey"])
		}
		keys[u["targetingKey"]] = true
		if ac, ok := u["accountCenterId"]; ok {
			linked[ac] = append(linked[ac], u)
		}
	}
	if len(linked) < 2000 {
		t.Errorf("only %d linked people", len(linked))
	}
	for ac, us := range linked {
		if len(us) != 2 || us[0]["app"] == us[1]["app"] {
			t.Fatalf("account centre %v: %v", ac, us)
		}
	}
	if c := synth.Users(10, 8); cmp.Equal(c, a[:10]) {
		t.Errorf("different seeds gave the same users")
	}
}
