package provider_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/provider"
)

func TestReadyAfterFirstSync(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 7)
	p := newProvider(t, f.URL())
	if p.Snapshot() != nil {
		t.Fatalf("snapshot before Init")
	}
	client, rec := mustSDK(t, p)
	if got := client.State(); got != openfeature.ReadyState {
		t.Errorf("state after SetProviderAndWait = %s, want READY", got)
	}
	rec.wait(t, 0, openfeature.ProviderReady, time.Second)
	if got := p.Snapshot().Version(); got != 7 {
		t.Errorf("snapshot version = %d, want 7", got)
	}
	if got := f.fetched.Load(); got != 1 {
		t.Errorf("fetched %d times, want 1 (the stream's first event announces the version held)", got)
	}
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
	if md := p.Metadata(); md.Name != "ramp" {
		t.Errorf("Metadata().Name = %q", md.Name)
	}
}

func TestEvaluationsThroughSDK(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 3)
	client, _ := mustSDK(t, newProvider(t, f.URL()))
	ec := openfeature.NewEvaluationContext

	type want struct {
		value    any
		variant  string
		reason   openfeature.Reason
		code     openfeature.ErrorCode
		metadata openfeature.FlagMetadata
	}
	v3 := openfeature.FlagMetadata{"configVersion": int64(3)}
	tests := []struct {
		name string
		eval func() (any, openfeature.EvaluationDetails, error)
		want want
	}{
		{"bool cohort member", boolean(client, "interop", false, ec("emp-1", map[string]any{"region": "FR"})),
			want{true, "on", openfeature.TargetingMatchReason, "", openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 0, "rule": "dogfood"}}},
		{"bool no rule matches", boolean(client, "interop", true, ec("u-1", map[string]any{"region": "FR"})),
			want{false, "off", openfeature.DefaultReason, "", v3}},
		{"bool disabled", boolean(client, "kill", true, ec("u-1", map[string]any{"region": "US"})),
			want{false, "off", openfeature.DisabledReason, "", v3}},
		{"string", str(client, "dm-mode", "x", ec("u-1", map[string]any{"region": "US"})),
			want{"handoff", "handoff", openfeature.TargetingMatchReason, "", openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 0}}},
		{"int by condition cohort", integer(client, "ttl", 1, ec("u-1", map[string]any{"accountType": "business"})),
			want{int64(300), "short", openfeature.TargetingMatchReason, "", openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 0, "rule": "business"}}},
		{"int default", integer(client, "ttl", 1, ec("u-1", nil)),
			want{int64(600), "long", openfeature.DefaultReason, "", v3}},
		{"float", float(client, "weight", 0, ec("u-1", map[string]any{"platform": "ios"})),
			want{0.75, "boost", openfeature.TargetingMatchReason, "", openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 0}}},
		{"object", object(client, "layout", nil, ec("u-1", nil)),
			want{map[string]any{"columns": 2.0, "tabs": []any{"primary"}}, "classic", openfeature.StaticReason, "", v3}},

		{"unknown flag", boolean(client, "nope", true, ec("u-1", nil)),
			want{true, "", openfeature.ErrorReason, openfeature.FlagNotFoundCode, v3}},
		{"type mismatch", boolean(client, "dm-mode", true, ec("u-1", nil)),
			want{true, "", openfeature.ErrorReason, openfeature.TypeMismatchCode, v3}},
		{"type mismatch object", object(client, "ttl", "dflt", ec("u-1", nil)),
			want{"dflt", "", openfeature.ErrorReason, openfeature.TypeMismatchCode, v3}},
		{"split without targeting key", boolean(client, "interop", true, ec("", map[string]any{"region": "US"})),
			want{true, "", openfeature.ErrorReason, openfeature.TargetingKeyMissingCode, openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 1, "rule": "us-10"}}},
		{"bucketing attribute of the wrong kind", boolean(client, "interop", true, ec("u-1", map[string]any{"region": "US", "accountCenterId": 1.5})),
			want{true, "", openfeature.ErrorReason, openfeature.InvalidContextCode, openfeature.FlagMetadata{"configVersion": int64(3), "ruleIndex": 1, "rule": "us-10"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			value, d, err := tc.eval()
			got := want{value, d.Variant, d.Reason, d.ErrorCode, d.FlagMetadata}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if (err != nil) != (tc.want.code != "") {
				t.Errorf("err = %v, want an error iff an error code", err)
			}
			if tc.want.code != "" && d.ErrorMessage == "" {
				t.Errorf("no error message with %s", d.ErrorCode)
			}
		})
	}

	// A split decides as the engine does, whatever the variant.
	t.Run("split agrees with the engine", func(t *testing.T) {
		engine, err := flags.Compile(scenario(), 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			ctx := map[string]any{"region": "US", "accountCenterId": "ac-" + id}
			want, wd := engine.Bool("interop", false, withKey(ctx, "u-"+id))
			got, err := client.BooleanValueDetails(context.Background(), "interop", false, ec("u-"+id, ctx))
			if err != nil || got.Value != want || got.Variant != wd.Variant || got.Reason != openfeature.SplitReason {
				t.Errorf("%s: SDK %v/%s/%s (%v), engine %v/%s", id, got.Value, got.Variant, got.Reason, err, want, wd.Variant)
			}
		}
	})
}

func withKey(ctx map[string]any, key string) map[string]any {
	out := map[string]any{"targetingKey": key}
	for k, v := range ctx {
		out[k] = v
	}
	return out
}

type evalFn = func() (any, openfeature.EvaluationDetails, error)

func boolean(c *openfeature.Client, key string, def bool, ec openfeature.EvaluationContext) evalFn {
	return func() (any, openfeature.EvaluationDetails, error) {
		d, err := c.BooleanValueDetails(context.Background(), key, def, ec)
		return d.Value, d.EvaluationDetails, err
	}
}

func str(c *openfeature.Client, key, def string, ec openfeature.EvaluationContext) evalFn {
	return func() (any, openfeature.EvaluationDetails, error) {
		d, err := c.StringValueDetails(context.Background(), key, def, ec)
		return d.Value, d.EvaluationDetails, err
	}
}

func integer(c *openfeature.Client, key string, def int64, ec openfeature.EvaluationContext) evalFn {
	return func() (any, openfeature.EvaluationDetails, error) {
		d, err := c.IntValueDetails(context.Background(), key, def, ec)
		return d.Value, d.EvaluationDetails, err
	}
}

func float(c *openfeature.Client, key string, def float64, ec openfeature.EvaluationContext) evalFn {
	return func() (any, openfeature.EvaluationDetails, error) {
		d, err := c.FloatValueDetails(context.Background(), key, def, ec)
		return d.Value, d.EvaluationDetails, err
	}
}

func object(c *openfeature.Client, key string, def any, ec openfeature.EvaluationContext) evalFn {
	return func() (any, openfeature.EvaluationDetails, error) {
		d, err := c.ObjectValueDetails(context.Background(), key, def, ec)
		return d.Value, d.EvaluationDetails, err
	}
}

// TestNotReadyBeforeFirstSnapshot: called directly before any snapshot, the
// provider answers the default with PROVIDER_NOT_READY rather than wait.
func TestNotReadyBeforeFirstSnapshot(t *testing.T) {
	t.Parallel()
	p, err := provider.New("http://127.0.0.1:9", testKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checks := map[string]openfeature.ProviderResolutionDetail{
		"bool":   p.BooleanEvaluation(ctx, "f", true, nil).ProviderResolutionDetail,
		"string": p.StringEvaluation(ctx, "f", "d", nil).ProviderResolutionDetail,
		"int":    p.IntEvaluation(ctx, "f", 1, nil).ProviderResolutionDetail,
		"float":  p.FloatEvaluation(ctx, "f", 1, nil).ProviderResolutionDetail,
		"object": p.ObjectEvaluation(ctx, "f", "d", nil).ProviderResolutionDetail,
	}
	for name, r := range checks {
		if d := r.ResolutionDetail(); d.ErrorCode != openfeature.ProviderNotReadyCode || d.Reason != openfeature.ErrorReason {
			t.Errorf("%s: %s/%s, want PROVIDER_NOT_READY/ERROR", name, d.ErrorCode, d.Reason)
		}
	}
	if v := p.BooleanEvaluation(ctx, "f", true, nil).Value; !v {
		t.Errorf("default not returned")
	}
	if v := p.ObjectEvaluation(ctx, "f", "d", nil).Value; v != "d" {
		t.Errorf("object default not returned: %v", v)
	}
}

// next is scenario as version 2: dm-mode's default changes, kill goes, a
// flag comes, and a member joins the cohort interop targets; ttl, weight
// and layout are untouched.
func next() flags.State {
	st := scenario()
	st.Cohorts[0].Members = append(st.Cohorts[0].Members, cohorts.Member{ID: "emp-3"})
	st.Flags[1].DefaultVariant = "handoff"
	st.Flags = st.Flags[:len(st.Flags)-1]
	st.Flags = append(st.Flags, flags.Flag{Key: "new-flag", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
		Variants: []flags.Variant{{Key: "on", Value: true}}, DefaultVariant: "on"})
	return st
}

func TestConfigurationChangedViaStream(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 1)
	p := newProvider(t, f.URL()) // polls hourly: only the stream can bring version 2
	client, rec := mustSDK(t, p)
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })

	mark := rec.mark()
	published := time.Now()
	f.publish(next(), 2)
	ev := rec.wait(t, mark, openfeature.ProviderConfigChange, time.Second)
	t.Logf("CONFIGURATION_CHANGED %s after publishing", time.Since(published))
	if diff := cmp.Diff([]string{"dm-mode", "interop", "kill", "new-flag"}, sorted(ev.FlagChanges)); diff != "" {
		t.Errorf("FlagChanges (-want +got):\n%s", diff)
	}
	if ev.EventMetadata["configVersion"] != int64(2) || ev.EventMetadata["previousVersion"] != int64(1) {
		t.Errorf("EventMetadata = %v", ev.EventMetadata)
	}
	if got := client.String(context.Background(), "dm-mode", "x", openfeature.NewEvaluationContext("u", nil)); got != "handoff" {
		t.Errorf("dm-mode after the change = %q, want handoff", got)
	}
	if on := client.Boolean(context.Background(), "interop", false, openfeature.NewEvaluationContext("emp-3", nil)); !on {
		t.Errorf("the new cohort member does not get interop")
	}
	if client.State() != openfeature.ReadyState {
		t.Errorf("state %s after a configuration change", client.State())
	}

	// Publishing the same configuration under a new version announces no
	// flag change.
	mark = rec.mark()
	f.publish(next(), 3)
	ev = rec.wait(t, mark, openfeature.ProviderConfigChange, time.Second)
	if len(ev.FlagChanges) != 0 {
		t.Errorf("FlagChanges for an identical configuration: %v", ev.FlagChanges)
	}
}

func TestStaleWhileServerDownThenReady(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 1)
	client, rec := mustSDK(t, newProvider(t, f.URL()))
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
	ec := openfeature.NewEvaluationContext("emp-1", nil)

	mark := rec.mark()
	f.stop()
	ev := rec.wait(t, mark, openfeature.ProviderStale, 3*time.Second)
	waitState(t, client, openfeature.StaleState)
	if ev.EventMetadata["configVersion"] != int64(1) {
		t.Errorf("STALE metadata %v", ev.EventMetadata)
	}
	// The last snapshot is still served.
	d, err := client.BooleanValueDetails(context.Background(), "interop", false, ec)
	if err != nil || !d.Value || d.Reason != openfeature.TargetingMatchReason {
		t.Errorf("while stale: %v/%s (%v), want true/TARGETING_MATCH", d.Value, d.Reason, err)
	}

	mark = rec.mark()
	f.restart()
	rec.wait(t, mark, openfeature.ProviderReady, 3*time.Second)
	waitState(t, client, openfeature.ReadyState)

	// The stream is back: a new version arrives through it.
	eventually(t, time.Second, "event stream open again", func() bool { return f.streams.Load() == 1 })
	mark = rec.mark()
	f.publish(next(), 2)
	rec.wait(t, mark, openfeature.ProviderConfigChange, time.Second)
	if n := len(rec.since(0, openfeature.ProviderStale)); n != 1 {
		t.Errorf("%d STALE events, want 1 (failed retries are not new events)", n)
	}
}

func TestErrorWhenKeyRefused(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			f := startFeed(t, scenario(), 1)
			p := newProvider(t, f.URL())
			client, rec := mustSDK(t, p)
			eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })

			mark := rec.mark()
			f.refuseWith(status)
			ev := rec.wait(t, mark, openfeature.ProviderError, 3*time.Second)
			waitState(t, client, openfeature.ErrorState)
			if !strings.Contains(ev.Message, "serving version 1") {
				t.Errorf("ERROR message %q", ev.Message)
			}
			// Still served from the last snapshot.
			on, err := client.BooleanValue(context.Background(), "interop", false, openfeature.NewEvaluationContext("emp-1", nil))
			if err != nil || !on {
				t.Errorf("while refused: %v (%v), want true from the last snapshot", on, err)
			}

			mark = rec.mark()
			f.refuseWith(0)
			rec.wait(t, mark, openfeature.ProviderReady, 3*time.Second)
			waitState(t, client, openfeature.ReadyState)
		})
	}
}

// TestRateLimitedIsNotStale: a 429 means the server is up; the provider
// stays READY and waits as long as Retry-After asks before trying again
// (the gaps between the server's clock readings are at least that long,
// however slow the machine: it can only make them longer).
func TestRateLimitedIsNotStale(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 1)
	client, rec := mustSDK(t, newProvider(t, f.URL()))
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })

	mark := rec.mark()
	f.refuseWith(http.StatusTooManyRequests) // ends the stream; reconnecting gets 429
	eventually(t, 3*time.Second, "the event stream asked for again after a 429", func() bool {
		return f.refusalsOf("/v1/snapshot/events") >= 2
	})
	for _, path := range []string{"/v1/snapshot", "/v1/snapshot/events"} {
		times := f.refusalTimes(path)
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < time.Second {
				t.Errorf("%s: asked again %s after a 429 with Retry-After: 1", path, gap.Round(time.Millisecond))
			}
		}
	}
	f.refuseWith(0)
	eventually(t, 3*time.Second, "event stream open again", func() bool { return f.streams.Load() == 1 })
	if client.State() != openfeature.ReadyState {
		t.Errorf("state %s after a 429, want READY", client.State())
	}
	for _, typ := range []openfeature.EventType{openfeature.ProviderStale, openfeature.ProviderError} {
		if evs := rec.since(mark, typ); len(evs) != 0 {
			t.Errorf("%s after a 429: %v", typ, evs)
		}
	}
}

func TestInitFailsFastWhenKeyRefused(t *testing.T) {
	t.Parallel()
	tests := map[int]error{http.StatusUnauthorized: provider.ErrUnauthorized, http.StatusForbidden: provider.ErrForbidden}
	for status, want := range tests {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			f := startFeed(t, scenario(), 1)
			f.refuseWith(status)
			p := newProvider(t, f.URL(), provider.InitTimeout(time.Minute))
			start := time.Now()
			err := p.Init(openfeature.EvaluationContext{})
			if !errors.Is(err, want) {
				t.Fatalf("Init: %v, want %v", err, want)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("Init took %s: it should not wait out its timeout (a minute)", d)
			}
		})
	}
}

// TestInitTimeoutThenLateServer: with the server down and no cache, Init
// gives up after InitTimeout (the SDK reports ERROR); the provider keeps
// trying and turns READY when the server appears.
func TestInitTimeoutThenLateServer(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := newProvider(t, "http://"+addr, provider.InitTimeout(300*time.Millisecond))
	start := time.Now()
	client, rec, err := sdk(t, p)
	if err == nil {
		t.Fatalf("SetProviderAndWait succeeded with no server")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 15*time.Second {
		t.Errorf("Init returned after %s, want after its InitTimeout of 300ms (and long before the SDK's 30 s)", d)
	}
	if got := client.State(); got != openfeature.ErrorState {
		t.Errorf("state %s, want ERROR", got)
	}
	if _, err := client.BooleanValue(context.Background(), "interop", false, openfeature.EvaluationContext{}); err == nil {
		t.Errorf("evaluation without a snapshot succeeded")
	}

	mark := rec.mark()
	f := newFeed(t)
	f.set(scenario(), 4)
	f.listen(addr)
	t.Cleanup(f.stop)
	rec.wait(t, mark, openfeature.ProviderReady, 3*time.Second)
	waitState(t, client, openfeature.ReadyState)
	if on := client.Boolean(context.Background(), "interop", false, openfeature.NewEvaluationContext("emp-1", nil)); !on {
		t.Errorf("not serving the late snapshot")
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestCacheFileOfflineStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cache := filepath.Join(dir, "ramp-snapshot.json")
	f := startFeed(t, scenario(), 1)

	// A first run writes every new version to the cache.
	first := newProvider(t, f.URL(), provider.CacheFile(cache))
	_, rec := mustSDK(t, first)
	eventually(t, 2*time.Second, "cache file at version 1", func() bool { return fileVersion(cache) == 1 })
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
	mark := rec.mark()
	f.publish(next(), 2)
	rec.wait(t, mark, openfeature.ProviderConfigChange, time.Second)
	eventually(t, 2*time.Second, "cache file at version 2", func() bool { return fileVersion(cache) == 2 })
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d entries, want the cache file alone (no temporary files)", len(entries))
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode: %v %v", fi.Mode(), err)
	}
	first.Shutdown()
	f.stop()

	// A second run starts from the cache while the server is down.
	second := newProvider(t, f.URL(), provider.CacheFile(cache), provider.InitTimeout(time.Minute))
	start := time.Now()
	client, rec := mustSDK(t, second)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("offline Init took %s: it waited for the server (InitTimeout is a minute)", d)
	}
	if v := second.Snapshot().Version(); v != 2 {
		t.Errorf("started from version %d, want the cached 2", v)
	}
	if on := client.Boolean(context.Background(), "interop", false, openfeature.NewEvaluationContext("emp-3", nil)); !on {
		t.Errorf("not serving the cached snapshot")
	}
	rec.wait(t, 0, openfeature.ProviderStale, 3*time.Second) // the server is unreachable

	// The server comes back with a newer version.
	mark = rec.mark()
	f.set(scenario(), 3)
	f.restart()
	rec.wait(t, mark, openfeature.ProviderReady, 3*time.Second)
	ev := rec.wait(t, mark, openfeature.ProviderConfigChange, 3*time.Second)
	if diff := cmp.Diff([]string{"dm-mode", "interop", "kill", "new-flag"}, sorted(ev.FlagChanges)); diff != "" {
		t.Errorf("FlagChanges (-want +got):\n%s", diff)
	}
	eventually(t, 2*time.Second, "cache file at version 3", func() bool { return fileVersion(cache) == 3 })
}

// TestCacheFileUnreadable: a corrupt cache is not fatal; Init fetches.
func TestCacheFileUnreadable(t *testing.T) {
	t.Parallel()
	cache := tempPath(t, "cache.json")
	if err := os.WriteFile(cache, []byte(`{"format":"ramp.snapshot/v1",`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startFeed(t, scenario(), 5)
	p := newProvider(t, f.URL(), provider.CacheFile(cache))
	mustSDK(t, p)
	if v := p.Snapshot().Version(); v != 5 {
		t.Errorf("version %d, want 5 from the server", v)
	}
	eventually(t, 2*time.Second, "cache file rewritten", func() bool { return fileVersion(cache) == 5 })
}

func TestLowerVersionIgnored(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 5)
	p := newProvider(t, f.URL(), provider.PollInterval(20*time.Millisecond))
	client, rec := mustSDK(t, p)

	// The server goes back to version 3 (a restored backup, a proxy's
	// cache): announced on the stream, it is not even fetched; polled (the
	// ETag differs, so the server answers 200), it is not installed.
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
	mark := rec.mark()
	fetched := f.fetched.Load()
	f.publish(next(), 3)
	eventually(t, 2*time.Second, "two polls of version 3", func() bool { return f.fetched.Load() >= fetched+2 })
	if v := p.Snapshot().Version(); v != 5 {
		t.Errorf("version %d after the server went back to 3, want 5 kept", v)
	}
	if got := client.String(context.Background(), "dm-mode", "x", openfeature.NewEvaluationContext("u", nil)); got != "off" {
		t.Errorf("dm-mode = %q: version 3's configuration was applied", got)
	}
	if evs := rec.since(mark, openfeature.ProviderConfigChange); len(evs) != 0 {
		t.Errorf("CONFIGURATION_CHANGED for an older version: %v", evs)
	}
	if client.State() != openfeature.ReadyState {
		t.Errorf("state %s", client.State())
	}
}

func TestNewFromFile(t *testing.T) {
	t.Parallel()
	path := tempPath(t, "snapshot.json")
	writeSnapshot(t, path, scenario(), 10)
	var logs logBuffer
	p, err := provider.NewFromFile(path, provider.WatchFile(10*time.Millisecond), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	client, rec := mustSDK(t, p)
	if got := client.Int(context.Background(), "ttl", 0, openfeature.NewEvaluationContext("u", map[string]any{"accountType": "business"})); got != 300 {
		t.Errorf("ttl = %d, want 300", got)
	}

	mark := rec.mark()
	writeSnapshot(t, path, next(), 11)
	ev := rec.wait(t, mark, openfeature.ProviderConfigChange, 2*time.Second)
	if diff := cmp.Diff([]string{"dm-mode", "interop", "kill", "new-flag"}, sorted(ev.FlagChanges)); diff != "" {
		t.Errorf("FlagChanges (-want +got):\n%s", diff)
	}

	// An older file, and a broken one, are ignored: the watcher reads each
	// (and logs why it keeps what it holds) before the next is written.
	mark = rec.mark()
	writeSnapshot(t, path, scenario(), 9)
	eventually(t, time.Second, "the older file read and ignored", func() bool {
		return strings.Contains(logs.String(), `not newer than the one held" from=file version=9 `)
	})
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the broken file read and refused", func() bool {
		return strings.Contains(logs.String(), "snapshot file not read")
	})
	if v := p.Snapshot().Version(); v != 11 {
		t.Errorf("version %d, want 11 kept", v)
	}
	if evs := rec.since(mark, openfeature.ProviderConfigChange); len(evs) != 0 {
		t.Errorf("CONFIGURATION_CHANGED for an older or broken file: %v", evs)
	}
}

func TestNewFromFileMissing(t *testing.T) {
	t.Parallel()
	p, err := provider.NewFromFile(tempPath(t, "absent.json"), provider.Logger(testLogger(t)), provider.InitTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	start := time.Now()
	if err := p.Init(openfeature.EvaluationContext{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Init: %v, want fs.ErrNotExist", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Init waited %s for a file that is not there (InitTimeout is a minute)", d)
	}
}

func TestOptionsRejected(t *testing.T) {
	t.Parallel()
	news := map[string]func() error{
		"relative URL":   func() error { _, err := provider.New("ramp:8080", testKey); return err },
		"no scheme host": func() error { _, err := provider.New("/v1", testKey); return err },
		"query":          func() error { _, err := provider.New("http://h/?a=b", testKey); return err },
		"empty key":      func() error { _, err := provider.New("http://h", ""); return err },
		"zero poll":      func() error { _, err := provider.New("http://h", testKey, provider.PollInterval(0)); return err },
		"backoff upside down": func() error {
			_, err := provider.New("http://h", testKey, provider.Backoff(time.Minute, time.Second))
			return err
		},
		"watch with New":     func() error { _, err := provider.New("http://h", testKey, provider.WatchFile(time.Second)); return err },
		"cache with file":    func() error { _, err := provider.NewFromFile("s.json", provider.CacheFile("c.json")); return err },
		"file without path":  func() error { _, err := provider.NewFromFile(""); return err },
		"negative init wait": func() error { _, err := provider.New("http://h", testKey, provider.InitTimeout(-1)); return err },
	}
	for name, fn := range news {
		if err := fn(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := provider.New("https://ramp.internal:8443/base/", testKey); err != nil {
		t.Errorf("valid URL with a path: %v", err)
	}
}

// TestInitAgainAfterShutdown: the SDK may hand a provider back after
// shutting it down; it starts again from the snapshot it kept.
func TestInitAgainAfterShutdown(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 1)
	p := newProvider(t, f.URL())
	for i := range 3 {
		if err := p.Init(openfeature.EvaluationContext{}); err != nil {
			t.Fatalf("Init #%d: %v", i, err)
		}
		eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
		p.Shutdown()
		eventually(t, time.Second, "event stream closed", func() bool { return f.streams.Load() == 0 })
	}
}
