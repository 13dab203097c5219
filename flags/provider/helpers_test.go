package provider_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/flags/wire"
)

// scenario has a flag of every type, a disabled one, a split bucketed by an
// attribute, and two cohorts (a member list and a condition).
func scenario() flags.State {
	onOff := []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	return flags.State{
		Cohorts: []cohorts.Cohort{
			{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}, {ID: "emp-2"}}},
			{Key: "business", When: []cohorts.Condition{{Attribute: "accountType", Op: cohorts.OpEq, Values: []string{"business"}}}},
		},
		Flags: []flags.Flag{
			{Key: "interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, BucketBy: "accountCenterId",
				Variants: onOff, DefaultVariant: "off",
				Rules: []flags.Rule{
					{Name: "dogfood", Cohorts: []string{"employees"}, Serve: "on"},
					{Name: "us-10", Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 1000}, {Variant: "off", Weight: 9000}}},
				}},
			{Key: "dm-mode", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}},
				DefaultVariant: "off",
				Rules:          []flags.Rule{{Regions: []string{"US"}, Serve: "handoff"}}},
			{Key: "ttl", Type: flags.Integer, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
				DefaultVariant: "long",
				Rules:          []flags.Rule{{Name: "business", Cohorts: []string{"business"}, Serve: "short"}}},
			{Key: "weight", Type: flags.Float, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "base", Value: 0.5}, {Key: "boost", Value: 0.75}},
				DefaultVariant: "base",
				Rules:          []flags.Rule{{When: []cohorts.Condition{{Attribute: "platform", Op: cohorts.OpEq, Values: []string{"ios"}}}, Serve: "boost"}}},
			{Key: "layout", Type: flags.Object, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "classic", Value: map[string]any{"columns": 2.0, "tabs": []any{"primary"}}}},
				DefaultVariant: "classic"},
			{Key: "kill", Type: flags.Boolean, Enabled: false, Bucketing: bucket.V1,
				Variants: onOff, DefaultVariant: "off",
				Rules: []flags.Rule{{Regions: []string{"*"}, Serve: "on"}}},
		},
	}
}

// fast are the options of every network test: quick reconnections, and a
// poll too slow to matter, so that the event stream is what is tested.
func fast(t testing.TB) []provider.Option {
	return []provider.Option{
		provider.Backoff(10*time.Millisecond, 100*time.Millisecond),
		provider.PollInterval(time.Hour),
		provider.InitTimeout(5 * time.Second),
		provider.Logger(testLogger(t)),
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newProvider(t testing.TB, url string, opts ...provider.Option) *provider.Provider {
	t.Helper()
	p, err := provider.New(url, testKey, append(fast(t), opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Shutdown)
	return p
}

// sdk registers p with an API instance of its own through the real SDK, as
// a service does, and returns a client with an event recorder attached.
// The API is shut down (and so the provider) when the test ends.
func sdk(t testing.TB, p openfeature.FeatureProvider) (*openfeature.Client, *recorder, error) {
	t.Helper()
	api := isolated.NewAPI()
	t.Cleanup(func() { api.Shutdown(context.Background()) })
	client := api.NewClient()
	rec := record(client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := api.SetProviderAndWait(ctx, p)
	return client, rec, err
}

func mustSDK(t testing.TB, p openfeature.FeatureProvider) (*openfeature.Client, *recorder) {
	t.Helper()
	client, rec, err := sdk(t, p)
	if err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	return client, rec
}

type recorded struct {
	typ openfeature.EventType
	openfeature.EventDetails
}

// recorder keeps the events the SDK hands to a client's handlers.
type recorder struct {
	mu     sync.Mutex
	got    []recorded
	signal chan struct{}
}

func record(c *openfeature.Client) *recorder {
	r := &recorder{signal: make(chan struct{}, 1)}
	for _, typ := range []openfeature.EventType{openfeature.ProviderReady, openfeature.ProviderConfigChange, openfeature.ProviderStale, openfeature.ProviderError} {
		cb := func(d openfeature.EventDetails) {
			r.mu.Lock()
			r.got = append(r.got, recorded{typ, d})
			r.mu.Unlock()
			select {
			case r.signal <- struct{}{}:
			default:
			}
		}
		c.AddHandler(typ, &cb)
	}
	return r
}

// mark returns a position in the record to wait from.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) since(mark int, typ openfeature.EventType) []openfeature.EventDetails {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []openfeature.EventDetails
	for _, e := range r.got[mark:] {
		if e.typ == typ {
			out = append(out, e.EventDetails)
		}
	}
	return out
}

// patience is how long a test waits for something that must happen before
// it fails. A loaded 2-core machine running the race detector can hold a
// goroutine back for seconds, so this is far longer than anything takes on
// an idle one: tests assert what happens and wait for it; how fast it
// happens is for benchmarks (and the slow-wait lines in the test log).
const patience = 30 * time.Second

// wait returns the first event of typ recorded after mark. d is how long
// the event usually takes: a longer wait is logged, and the test fails only
// if none comes within patience (or d, if longer).
func (r *recorder) wait(t testing.TB, mark int, typ openfeature.EventType, d time.Duration) openfeature.EventDetails {
	t.Helper()
	start := time.Now()
	limit := max(d, patience)
	deadline := time.After(limit)
	for {
		if got := r.since(mark, typ); len(got) > 0 {
			if took := time.Since(start); took > d {
				t.Logf("slow: %s came %s after the wait began (usually within %s)", typ, took.Round(time.Millisecond), d)
			}
			return got[0]
		}
		select {
		case <-r.signal:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			var seen []openfeature.EventType
			for _, e := range r.got[mark:] {
				seen = append(seen, e.typ)
			}
			t.Fatalf("no %s within %s; events since mark: %v", typ, limit, seen)
		}
	}
}

// eventually waits until cond holds. d is how long that usually takes: a
// longer wait is logged, and the test fails only if cond does not hold
// within patience (or d, if longer).
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	limit := max(d, patience)
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); took > d {
		t.Logf("slow: %s took %s (usually within %s)", what, took.Round(time.Millisecond), d)
	}
}

func waitState(t testing.TB, c *openfeature.Client, want openfeature.State) {
	t.Helper()
	eventually(t, 3*time.Second, "client state "+string(want), func() bool { return c.State() == want })
}

// writeSnapshot writes st as version to path the way CacheFile does
// (rename over), so that a watcher never sees half a file.
func writeSnapshot(t testing.TB, path string, st flags.State, version int64) {
	t.Helper()
	doc, err := wire.Marshal(&st, version)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fileVersion reads the configuration version of a wire document file, or
// -1 when it cannot.
func fileVersion(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	_, v, err := wire.Unmarshal(b)
	if err != nil {
		return -1
	}
	return v
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func tempPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
