package provider

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// TestMetadataMatchesDecision: the precomputed metadata is exactly what
// Decision.Metadata() would have built, for every kind of decision,
// including errors and flags with store versions.
func TestMetadataMatchesDecision(t *testing.T) {
	onOff := []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	st := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "staff", Members: []cohorts.Member{{ID: "s-1"}}}},
		Flags: []flags.Flag{
			{Key: "a", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, Variants: onOff, DefaultVariant: "off", Version: 4,
				Rules: []flags.Rule{
					{Name: "staff", Cohorts: []string{"staff"}, Serve: "on"},
					{Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 5000}, {Variant: "off", Weight: 5000}}},
				}},
			{Key: "b", Type: flags.String, Enabled: false, Bucketing: bucket.V1, DefaultVariant: "x",
				Variants: []flags.Variant{{Key: "x", Value: "x"}}},
			{Key: "c", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, Variants: onOff, DefaultVariant: "on"},
		},
	}
	snap, err := flags.Compile(st, 300)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoaded(snap, "")
	contexts := []map[string]any{
		nil,
		{"targetingKey": "s-1"},
		{"targetingKey": "u-1", "region": "US"},
		{"targetingKey": "u-2", "region": "FR"},
		{"region": "US"},
	}
	n := 0
	for _, key := range []string{"a", "b", "c", "missing"} {
		for _, ctx := range contexts {
			_, d1 := snap.Bool(key, false, ctx)
			_, d2 := snap.String(key, "", ctx)
			for _, d := range []flags.Decision{d1, d2, snap.Evaluate(key, ctx)} {
				n++
				if diff := cmp.Diff(openfeature.FlagMetadata(d.Metadata()), l.metadata(&d)); diff != "" {
					t.Errorf("%s %v %s/%s: metadata (-want +got):\n%s", key, ctx, d.Reason, d.ErrorCode, diff)
				}
			}
		}
	}
	// A decision from another snapshot is computed, not looked up.
	d := flags.Decision{Key: "a", Rule: 0, RuleName: "other", FlagVersion: 4, SnapshotVersion: 299}
	if diff := cmp.Diff(openfeature.FlagMetadata(d.Metadata()), l.metadata(&d)); diff != "" {
		t.Errorf("foreign decision (-want +got):\n%s", diff)
	}
	t.Logf("%d decisions compared", n)
}

// TestResolutionTables: every engine reason and error code has its
// OpenFeature counterpart, spelt alike.
func TestResolutionTables(t *testing.T) {
	for _, r := range []flags.Reason{flags.ReasonStatic, flags.ReasonTargetingMatch, flags.ReasonSplit, flags.ReasonDefault, flags.ReasonDisabled, flags.ReasonError} {
		if got := reason(r); string(got) != string(r) {
			t.Errorf("reason(%s) = %s", r, got)
		}
	}
	if got := reason("SOMETHING_NEW"); got != openfeature.UnknownReason {
		t.Errorf("unknown reason mapped to %s", got)
	}
	codes := []flags.ErrorCode{flags.ErrFlagNotFound, flags.ErrTypeMismatch, flags.ErrTargetingKeyMissing, flags.ErrInvalidContext, flags.ErrParse, flags.ErrGeneral}
	for _, c := range codes {
		d := openfeature.ProviderResolutionDetail{ResolutionError: resolutionError(c, "details")}.ResolutionDetail()
		if string(d.ErrorCode) != string(c) || d.ErrorMessage != "details" {
			t.Errorf("resolutionError(%s) = %s %q", c, d.ErrorCode, d.ErrorMessage)
		}
	}
	if d := (openfeature.ProviderResolutionDetail{ResolutionError: resolutionError("NEW_CODE", "m")}).ResolutionDetail(); d.ErrorCode != openfeature.GeneralCode {
		t.Errorf("unknown code mapped to %s", d.ErrorCode)
	}
}

func TestReadEvents(t *testing.T) {
	in := ": hello\r\n" +
		"event: snapshot\r\ndata: {\"version\":1}\r\n\r\n" +
		": ping\n\n" +
		"event:snapshot\ndata:{\"version\":2}\nid: 7\nretry: 10\n\n" +
		"data: a\ndata: b\n\n" +
		"event: other\n\n" + // no data: not dispatched
		"event: snapshot\ndata: {\"version\":3}\n" // cut short: not dispatched
	var got []string
	lines := 0
	err := readEvents(strings.NewReader(in), func() { lines++ }, func(event string, data []byte) {
		got = append(got, event+"|"+string(data))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`snapshot|{"version":1}`, `snapshot|{"version":2}`, "|a\nb"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if lines != 18 {
		t.Errorf("%d lines seen, want 18", lines)
	}
	if err := readEvents(strings.NewReader("data: "+strings.Repeat("x", 2<<20)+"\n\n"), func() {}, func(string, []byte) {}); err == nil {
		t.Errorf("a 2 MiB line was accepted")
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, c := range ceilings {
		c *= time.Millisecond
		d := b.next()
		if d < c/2 || d > c {
			t.Errorf("delay %d = %s, want within [%s, %s]", i, d, c/2, c)
		}
	}
	for range 100 {
		b.next() // no overflow however long the outage
	}
	if d := b.next(); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("after many failures: %s", d)
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}
}

// TestChangedFlags covers what the fingerprints see and what they ignore.
func TestChangedFlags(t *testing.T) {
	base := func() flags.State {
		return flags.State{
			Cohorts: []cohorts.Cohort{{Key: "c", Members: []cohorts.Member{{ID: "1"}}}},
			Flags: []flags.Flag{
				{Key: "uses-c", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, DefaultVariant: "off",
					Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
					Rules:    []flags.Rule{{Cohorts: []string{"c"}, Serve: "on"}}},
				{Key: "plain", Type: flags.Integer, Enabled: true, Bucketing: bucket.V1, DefaultVariant: "n",
					Variants: []flags.Variant{{Key: "n", Value: int64(1)}}},
			},
		}
	}
	tests := []struct {
		name string
		edit func(*flags.State)
		want []string
	}{
		{"nothing", func(*flags.State) {}, nil},
		{"store version only", func(st *flags.State) { st.Flags[1].Version = 9 }, nil},
		{"value", func(st *flags.State) { st.Flags[1].Variants[0].Value = int64(2) }, []string{"plain"}},
		{"kill switch", func(st *flags.State) { st.Flags[0].Enabled = false }, []string{"uses-c"}},
		{"cohort member", func(st *flags.State) { st.Cohorts[0].Members = []cohorts.Member{{ID: "2"}} }, []string{"uses-c"}},
		{"cohort condition", func(st *flags.State) {
			st.Cohorts[0].When = []cohorts.Condition{{Attribute: "x", Op: cohorts.OpEq, Values: []string{"y"}}}
		}, []string{"uses-c"}},
		{"removed and added", func(st *flags.State) { st.Flags[1].Key = "renamed" }, []string{"plain", "renamed"}},
	}
	prev := newLoaded(mustCompile(t, base(), 1), "")
	for _, tc := range tests {
		st := base()
		tc.edit(&st)
		got := changedFlags(prev, newLoaded(mustCompile(t, st, 2), ""))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
}

func mustCompile(t *testing.T, st flags.State, v int64) *flags.Snapshot {
	t.Helper()
	s, err := flags.Compile(st, v)
	if err != nil {
		t.Fatal(fmt.Errorf("compile: %w", err))
	}
	return s
}

// TestSilentStreamReconnects: a stream that stops sending anything, pings
// included (a half-open connection), is dropped after the idle timeout and
// opened again; the provider stays healthy meanwhile.
func TestSilentStreamReconnects(t *testing.T) {
	doc := []byte(`{"format":"ramp.snapshot/v1","version":1,"cohorts":[],"flags":[]}`)
	var connects atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/snapshot":
			w.Write(doc)
		case "/v1/snapshot/events":
			connects.Add(1)
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "event: snapshot\ndata: {\"version\":1}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // then silence
		}
	}))
	defer srv.Close()
	p, err := New(srv.URL, "k", Backoff(time.Millisecond, 10*time.Millisecond), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	p.cfg.streamIdle = 50 * time.Millisecond
	defer p.Shutdown()
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	// Three connections take 100ms on an idle machine; a loaded one gets 30 s.
	deadline := time.Now().Add(30 * time.Second)
	for connects.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d stream connections in 30 s, want a reconnection after every 50ms of silence", connects.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	h := p.health
	p.mu.Unlock()
	if h != healthy {
		t.Errorf("health %d after idle reconnections, want healthy", h)
	}
	select {
	case ev := <-p.EventChannel():
		t.Errorf("event %s: reconnecting a silent stream is not news", ev.EventType)
	default:
	}
}
