package provider

import "testing"

func TestSupersedes(t *testing.T) {
	held := func(version int64, epoch string) *loaded { return &loaded{version: version, epoch: epoch} }
	for _, tc := range []struct {
		name    string
		held    *loaded
		version int64
		epoch   string
		want    bool
	}{
		{"nothing held", nil, 1, "", true},
		{"newer, same database", held(57, "a"), 58, "a", true},
		{"same version, same database", held(57, "a"), 57, "a", false},
		{"older, same database (a lagging replica)", held(57, "a"), 56, "a", false},
		{"older, another database", held(57, "a"), 3, "b", true},
		{"same version, another database", held(57, "a"), 57, "b", true},
		{"newer, no epochs", held(57, ""), 58, "", true},
		{"older, no epochs", held(57, ""), 3, "", false},
		{"older, without an epoch (an old server)", held(57, "a"), 3, "", false},
		{"newer, without an epoch (an old server)", held(57, "a"), 58, "", true},
		{"same version, without an epoch (an old server)", held(57, "a"), 57, "", false},
		{"same version, epoch learnt", held(57, ""), 57, "a", true},
		{"older, held without an epoch", held(57, ""), 3, "a", false},
		{"newer, held without an epoch", held(57, ""), 58, "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := supersedes(tc.held, tc.version, tc.epoch); got != tc.want {
				t.Errorf("supersedes(%+v, %d, %q) = %v, want %v", tc.held, tc.version, tc.epoch, got, tc.want)
			}
		})
	}
}
