package provider

import (
	"bytes"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/wire"
)

// bundleState is a small configuration with two member sets.
func bundleState() flags.State {
	onOff := []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	return flags.State{
		Cohorts: []cohorts.Cohort{{Key: "staff"}, {Key: "beta"}, {Key: "none"}},
		Flags: []flags.Flag{{Key: "a", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, Variants: onOff, DefaultVariant: "off",
			Rules: []flags.Rule{{Cohorts: []string{"staff"}, Serve: "on"}, {Cohorts: []string{"beta"}, Serve: "on"}}}},
		MemberSets: map[string]*cohorts.Set{"staff": cohorts.NewSet([]string{"s-1", "s-2"}), "beta": cohorts.NewSet([]string{"b-1", "b-2", "b-3"})},
	}
}

// bundle writes st as CacheFile does for a manifest.
func bundle(t testing.TB, st flags.State) []byte {
	t.Helper()
	ids := map[string]string{}
	for key, set := range st.MemberSets {
		ids[key] = wire.SetID(set)
	}
	manifest, err := wire.MarshalManifest(&st, 9, "e9", ids)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeBundle(&buf, manifest, &st, ids); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	st := bundleState()
	l, err := readSnapshot(bytes.NewReader(bundle(t, st)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if l.version != 9 || l.epoch != "e9" {
		t.Fatalf("read version %d epoch %q", l.version, l.epoch)
	}
	for _, id := range []string{"s-2", "b-3"} {
		if on, _ := l.snap.Bool("a", false, map[string]any{"targetingKey": id}); !on {
			t.Errorf("%s is not in its cohort after the round trip", id)
		}
	}
	if on, _ := l.snap.Bool("a", false, map[string]any{"targetingKey": "x"}); on {
		t.Error("a stranger is in a cohort")
	}
	if len(l.sets) != 2 {
		t.Errorf("%d sets held by ID, want 2", len(l.sets))
	}
	// Truncated or extended, it is refused.
	b := bundle(t, st)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), b[:bytes.IndexByte(b, '\n')+1]} {
		if _, err := readSnapshot(bytes.NewReader(bad), -1); err == nil {
			t.Errorf("a bundle of %d bytes (of %d) accepted", len(bad), len(b))
		}
	}
}

// FuzzReadSnapshot: cache files and NewFromFile files are outside input.
// Nothing read may crash the provider, and what reads must evaluate.
func FuzzReadSnapshot(f *testing.F) {
	st := bundleState()
	f.Add(bundle(f, st))
	v1, err := wire.MarshalEpoch(&st, 3, "e3")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Add([]byte(`{"format":"ramp.snapshot/v2","version":1,"cohorts":[],"flags":[]}` + "\n"))
	for i, seed := range [][]byte{bundle(f, st), v1} {
		if _, err := readSnapshot(bytes.NewReader(seed), int64(len(seed))); err != nil {
			f.Fatalf("seed %d does not read: %v", i, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := readSnapshot(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, key := range l.snap.Keys() {
			_ = l.snap.Evaluate(key, map[string]any{"targetingKey": "s-1", "region": "US"})
		}
	})
}
