package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/provider"
)

// TestServerWithoutManifests: a provider that asks for ramp.snapshot/v2
// from a server built before it (which ignores the request and sends the
// whole v1 document, member lists inline) reads that document, follows
// its changes, and caches it in a file it starts from.
func TestServerWithoutManifests(t *testing.T) {
	f := startFeed(t, scenario(), 1)
	cache := tempPath(t, "cache.json")
	p := newProvider(t, f.URL(), provider.CacheFile(cache))
	client, _ := mustSDK(t, p)
	if f.asked.Load() == 0 || f.asked.Load() != f.fetched.Load() {
		t.Errorf("%d of %d fetches asked for format=2", f.asked.Load(), f.fetched.Load())
	}
	ctx := context.Background()
	if on, _ := client.BooleanValue(ctx, "interop", false, openfeature.NewEvaluationContext("emp-1", nil)); !on {
		t.Error("emp-1, a member of employees, is not served the dogfood rule")
	}
	st := scenario()
	st.Cohorts[0].Members = append(st.Cohorts[0].Members, cohorts.Member{ID: "emp-3"})
	f.publish(st, 2)
	eventually(t, 30*time.Second, "version 2", func() bool { return p.Snapshot().Version() == 2 })
	if on, _ := client.BooleanValue(ctx, "interop", false, openfeature.NewEvaluationContext("emp-3", nil)); !on {
		t.Error("emp-3, added in version 2, is not served the dogfood rule")
	}
	eventually(t, 30*time.Second, "the cache file at version 2", func() bool { return fileVersion(cache) == 2 })
	fp, err := provider.NewFromFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := fp.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	defer fp.Shutdown()
	if d, _ := fp.Snapshot().Bool("interop", false, map[string]any{"targetingKey": "emp-3"}); !d {
		t.Error("the cached v1 document does not know emp-3")
	}
}
