package provider_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// rampServe is a real `ramp serve` (internal/server over the control plane
// and a SQLite file) on a loopback address that survives restarts.
type rampServe struct {
	t    *testing.T
	path string // the database file
	svc  *admin.Service
	addr string
	stop func()
}

func startRampServe(t *testing.T, path, addr string) *rampServe {
	t.Helper()
	svc, err := admin.Open(context.Background(), path, admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Source: svc, InsecureNoAuth: true, Poll: 10 * time.Millisecond, RateLimit: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the previous server's port, being released
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	r := &rampServe{t: t, path: path, svc: svc, addr: ln.Addr().String()}
	var once atomic.Bool
	r.stop = func() {
		if once.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		svc.Close()
	}
	t.Cleanup(r.stop)
	return r
}

func (r *rampServe) URL() string { return "http://" + r.addr }

// fullDownload is what a provider built before ramp.snapshot/v2 gets: the
// whole document, decoded by the v1 decoder.
func fullDownload(t *testing.T, base string) *flags.Snapshot {
	t.Helper()
	resp, err := http.Get(base + "/v1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/snapshot: %s %v", resp.Status, err)
	}
	snap, err := wire.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// content is what a snapshot holds, member sets by their IDs.
type content struct {
	Version int64
	Flags   []flags.Flag
	Cohorts []cohorts.Cohort
	Sets    map[string]string
}

func contentOf(snap *flags.Snapshot) content {
	st := snap.State()
	c := content{Version: snap.Version(), Flags: st.Flags, Cohorts: st.Cohorts, Sets: map[string]string{}}
	for key, set := range st.MemberSets {
		if set.Len() > 0 {
			c.Sets[key] = wire.SetID(set)
		}
	}
	return c
}

// sameSnapshot compares two snapshots' content, and their decisions for
// many contexts.
func sameSnapshot(t *testing.T, what string, want, got *flags.Snapshot, contexts int) {
	t.Helper()
	if d := cmp.Diff(contentOf(want), contentOf(got), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("%s: the provider's snapshot differs from a full download (-full +provider):\n%s", what, d)
	}
	for i := range contexts {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("u-%d", i%700), "region": []string{"US", "FR", "BR"}[i%3],
			"accountCenterId": fmt.Sprintf("ac-%d", i)}
		for _, key := range want.Keys() {
			a, b := want.Evaluate(key, ctx), got.Evaluate(key, ctx)
			if a.Variant != b.Variant || a.Reason != b.Reason || a.Rule != b.Rule {
				t.Fatalf("%s: %s for %v: full download %s/%s, provider %s/%s", what, key, ctx, a.Variant, a.Reason, b.Variant, b.Reason)
			}
		}
	}
}

func memberSource(ms []cohorts.Member) func() (cohorts.Member, error) {
	i := 0
	return func() (cohorts.Member, error) {
		if i == len(ms) {
			return cohorts.Member{}, io.EOF
		}
		i++
		return ms[i-1], nil
	}
}

// applyStore makes the stored state desired, as `ramp apply` does.
func applyStore(t *testing.T, s *store.Store, edit func(st *flags.State), prune bool) {
	t.Helper()
	ctx := context.Background()
	cur, _, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desired := cur
	desired.Cohorts = slices.Clone(cur.Cohorts)
	desired.Flags = slices.Clone(cur.Flags)
	edit(&desired)
	if err := s.Apply(ctx, &desired, flags.Diff(&cur, &desired, prune), "tester"); err != nil {
		t.Fatal(err)
	}
}

func syncFlags() []flags.Flag {
	onOff := []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	return []flags.Flag{
		{Key: "kill", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, Variants: onOff, DefaultVariant: "off",
			Rules: []flags.Rule{{Regions: []string{"*"}, Serve: "on"}}},
		{Key: "beta", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, Variants: onOff, DefaultVariant: "off",
			Rules: []flags.Rule{{Name: "alpha", Cohorts: []string{"alpha"}, Serve: "on"},
				{Name: "us", Cohorts: []string{"beta"}, Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 5000}, {Variant: "off", Weight: 5000}}}}},
	}
}

// TestProviderFollowsRandomChanges: a provider following `ramp serve`
// through a long random sequence of changes (flags switched, cohorts
// added, removed, renamed and emptied, members imported, added and
// removed, the epoch renewed, the database file replaced, the server
// restarted) holds, after each, exactly what a fresh full download gives:
// the same content (member sets compared by content) and the same
// decisions. It also holds the member sets the changes did not touch
// without fetching them again.
func TestProviderFollowsRandomChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("a long sequence against a real server")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ramp.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	rng := rand.New(rand.NewPCG(16, 2))
	randMembers := func(n int) []cohorts.Member {
		ms := make([]cohorts.Member, n)
		for i := range ms {
			ms[i] = cohorts.Member{ID: fmt.Sprintf("u-%d", rng.IntN(700)), Region: []cohorts.Region{"", "US", "FR"}[rng.IntN(3)]}
		}
		return ms
	}
	applyStore(t, s, func(st *flags.State) {
		st.Cohorts = []cohorts.Cohort{{Key: "alpha", Members: randMembers(200)}, {Key: "beta", Members: randMembers(300)}}
		st.Flags = syncFlags()
	}, true)

	srv := startRampServe(t, path, "127.0.0.1:0")
	var setFetches atomic.Int64
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/v1/snapshot/sets/") {
			setFetches.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	cache := filepath.Join(dir, "cache.snapshot")
	p := newProvider(t, srv.URL(), provider.HTTPClient(counting), provider.CacheFile(cache))
	mustSDK(t, p)

	tmp := 0 // cohorts tmp-N come and go
	for step := range 70 {
		var what string
		fetchesBefore := setFetches.Load()
		touchesLists := true
		switch op := rng.IntN(11); {
		case step == 35:
			what = "restart the server"
			addr := srv.addr
			srv.stop()
			srv = startRampServe(t, path, addr)
			touchesLists = false
		case step == 50 || step == 20:
			what = "replace the database file"
			restored := filepath.Join(dir, fmt.Sprintf("restored-%d.db", step))
			dst, err := store.Open(ctx, restored)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Copy(ctx, s, dst, "tester"); err != nil {
				t.Fatal(err)
			}
			if _, err := dst.SetEnabled(ctx, "kill", step == 20, "tester"); err != nil {
				t.Fatal(err)
			}
			dst.Close()
			s.Close()
			if err := os.Rename(restored, path); err != nil {
				t.Fatal(err)
			}
			if s, err = store.Open(ctx, path); err != nil {
				t.Fatal(err)
			}
			touchesLists = false
		case op == 0 || op == 1:
			what = "switch the kill switch"
			f, _ := s.Flag(ctx, "kill")
			if _, err := s.SetEnabled(ctx, "kill", !f.Enabled, "tester"); err != nil {
				t.Fatal(err)
			}
			touchesLists = false
		case op == 2:
			key := []string{"alpha", "beta"}[rng.IntN(2)]
			mode := []store.ImportMode{store.ImportReplace, store.ImportAdd}[rng.IntN(2)]
			what = fmt.Sprintf("import %s into %s", mode, key)
			if _, err := s.ImportMembers(ctx, key, store.ImportOptions{Mode: mode}, memberSource(randMembers(50+rng.IntN(200))), "tester"); err != nil {
				t.Fatal(err)
			}
		case op == 3:
			key := []string{"alpha", "beta"}[rng.IntN(2)]
			what = "empty " + key
			if _, err := s.ImportMembers(ctx, key, store.ImportOptions{Mode: store.ImportReplace, AllowEmpty: true}, memberSource(nil), "tester"); err != nil {
				t.Fatal(err)
			}
		case op == 4:
			key := []string{"alpha", "beta"}[rng.IntN(2)]
			what = "add and remove members of " + key
			if _, err := s.AddMemberList(ctx, key, randMembers(5), false, "tester"); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range randMembers(20) {
				ids = append(ids, m.ID)
			}
			if _, err := s.RemoveMemberList(ctx, key, ids, "tester"); err != nil {
				t.Fatal(err)
			}
		case op == 5:
			tmp++
			what = fmt.Sprintf("add cohort tmp-%d", tmp)
			applyStore(t, s, func(st *flags.State) {
				st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: fmt.Sprint("tmp-", tmp), Members: randMembers(1 + rng.IntN(100))})
			}, false)
		case op == 6 || op == 7:
			cur, _, _ := s.State(ctx)
			i := slices.IndexFunc(cur.Cohorts, func(c cohorts.Cohort) bool { return strings.HasPrefix(c.Key, "tmp-") })
			if i < 0 {
				what = "nothing"
				touchesLists = false
				break
			}
			old := cur.Cohorts[i].Key
			if op == 6 {
				what = "remove cohort " + old
				applyStore(t, s, func(st *flags.State) {
					st.Cohorts = slices.DeleteFunc(st.Cohorts, func(c cohorts.Cohort) bool { return c.Key == old })
				}, true)
			} else {
				tmp++
				what = fmt.Sprintf("rename cohort %s to tmp-%d", old, tmp)
				applyStore(t, s, func(st *flags.State) {
					for j := range st.Cohorts {
						if st.Cohorts[j].Key == old {
							st.Cohorts[j].Key = fmt.Sprint("tmp-", tmp)
						}
					}
				}, true)
				touchesLists = false // the same members under another name: the provider holds them
			}
		case op == 8:
			what = "describe alpha and add a flag"
			applyStore(t, s, func(st *flags.State) {
				for j := range st.Cohorts {
					if st.Cohorts[j].Key == "alpha" {
						st.Cohorts[j].Description = fmt.Sprint("step ", step)
					}
				}
				f := syncFlags()[0]
				f.Key = fmt.Sprint("extra-", step)
				st.Flags = append(st.Flags, f)
			}, false)
			touchesLists = false
		case op == 9:
			what = "renew the epoch"
			if _, err := s.RenewEpoch(ctx, "tester"); err != nil {
				t.Fatal(err)
			}
			touchesLists = false
		default:
			what = "move beta's rollout"
			applyStore(t, s, func(st *flags.State) {
				for j := range st.Flags {
					if st.Flags[j].Key == "beta" {
						w := flags.Percent(1000 * (1 + rng.IntN(9)))
						st.Flags[j].Rules[1].Rollout = []flags.Split{{Variant: "on", Weight: w}, {Variant: "off", Weight: 10000 - w}}
					}
				}
			}, false)
			touchesLists = false
		}
		rev, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, fmt.Sprintf("step %d (%s): the provider at version %d", step, what, rev.Version), func() bool {
			snap := p.Snapshot()
			return snap != nil && snap.Version() == rev.Version && fullDownload(t, srv.URL()).Version() == rev.Version
		})
		n := 300
		if step%10 == 9 {
			n = 3000
		}
		sameSnapshot(t, fmt.Sprintf("step %d (%s)", step, what), fullDownload(t, srv.URL()), p.Snapshot(), n)
		if !touchesLists && setFetches.Load() != fetchesBefore && what != "replace the database file" {
			// A renamed cohort, a restart, an epoch: the sets are the
			// same content, which the provider holds.
			t.Errorf("step %d (%s): %d member sets fetched though no list changed", step, what, setFetches.Load()-fetchesBefore)
		}
	}

	// The cache file holds the last snapshot, and a provider reads it.
	eventually(t, 30*time.Second, "the cache file at the last version", func() bool {
		fp, err := provider.NewFromFile(cache)
		if err != nil {
			return false
		}
		if err := fp.Init(openfeature.EvaluationContext{}); err != nil {
			return false
		}
		defer fp.Shutdown()
		return fp.Snapshot().Version() == p.Snapshot().Version()
	})
	fp, err := provider.NewFromFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := fp.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	defer fp.Shutdown()
	sameSnapshot(t, "the cache file", fullDownload(t, srv.URL()), fp.Snapshot(), 1000)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSetChangedWhileFetched: the lists change between the snapshot a
// provider read and its fetch of a set it names. The server no longer
// serves that set (404), and the provider reads the snapshot again and
// installs the new one whole: never the old snapshot with the new list,
// nor the reverse.
func TestSetChangedWhileFetched(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ramp.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	members := func(prefix string, n int) []cohorts.Member {
		ms := make([]cohorts.Member, n)
		for i := range ms {
			ms[i] = cohorts.Member{ID: fmt.Sprintf("%s-%d", prefix, i)}
		}
		return ms
	}
	applyStore(t, s, func(st *flags.State) {
		st.Cohorts = []cohorts.Cohort{{Key: "alpha", Members: members("old", 100)}, {Key: "beta"}}
		st.Flags = syncFlags()
	}, true)
	srv := startRampServe(t, path, "127.0.0.1:0")
	target, _ := url.Parse(srv.URL())

	// A proxy that, at the first set request, imports a new list and
	// waits until the server serves it before passing the request on.
	var changed atomic.Bool
	var gone atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasPrefix(resp.Request.URL.Path, "/v1/snapshot/sets/") && resp.StatusCode == http.StatusNotFound {
			gone.Add(1)
		}
		return nil
	}
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/snapshot/sets/") && !changed.Swap(true) {
			if _, err := s.ImportMembers(ctx, "alpha", store.ImportOptions{}, memberSource(members("new", 100)), "tester"); err != nil {
				t.Error(err)
			}
			rev, _ := s.Revision(ctx)
			deadline := time.Now().Add(30 * time.Second)
			for fullDownload(t, srv.URL()).Version() < rev.Version && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go front.Serve(ln)
	defer front.Close()

	p := newProvider(t, "http://"+ln.Addr().String())
	client, _ := mustSDK(t, p)
	if gone.Load() == 0 {
		t.Fatal("the set was not gone when fetched: the test did not race")
	}
	rev, _ := s.Revision(ctx)
	if v := p.Snapshot().Version(); v != rev.Version {
		t.Fatalf("provider at version %d, store at %d", v, rev.Version)
	}
	sameSnapshot(t, "after the race", fullDownload(t, srv.URL()), p.Snapshot(), 500)
	ec := openfeature.NewEvaluationContext("new-7", nil)
	if on, _ := client.BooleanValue(ctx, "beta", false, ec); !on {
		t.Error("a member of the new list is not in alpha")
	}
	if on, _ := client.BooleanValue(ctx, "beta", false, openfeature.NewEvaluationContext("old-7", nil)); on {
		t.Error("a member of the old list is still in alpha")
	}
}
