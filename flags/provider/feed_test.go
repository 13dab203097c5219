package provider_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
)

const testKey = "sdk-test-key"

// feed is the snapshot feed of `ramp serve` as the contract in doc.go
// describes it, served on loopback from a flags.State: the only stand-in in
// these tests, at the HTTP boundary. It is a server built before
// ramp.snapshot/v2: it ignores format=2 and sends whole documents, as a
// server not yet upgraded does to new providers during a rolling upgrade
// (the tests against a real `ramp serve` are in sync_e2e_test.go).
type feed struct {
	t testing.TB

	mu      sync.Mutex
	doc     []byte
	version int64
	epoch   string                 // the database's; "" serves as a ramp before epochs did
	refuse  int                    // a status every request gets, or 0
	subs    map[chan struct{}]bool // open event streams
	quit    chan struct{}          // closed to end every open stream
	srv     *httptest.Server
	addr    string
	ping    time.Duration

	fetched  atomic.Int64   // 200 answers to /v1/snapshot
	asked    atomic.Int64   // of which asked for format=2
	notMod   atomic.Int64   // 304 answers
	streams  atomic.Int64   // event streams currently open
	connects atomic.Int64   // event streams ever opened
	refused  atomic.Int64   // requests answered with the refuse status
	sent     atomic.Int64   // the version the latest snapshot event announced
	refusals map[string]int // by path

	refusedAt map[string][]time.Time // when each refused request came, by path
}

// startFeed serves st as version on a new loopback address.
func startFeed(t testing.TB, st flags.State, version int64) *feed {
	t.Helper()
	f := newFeed(t)
	f.set(st, version)
	f.listen("127.0.0.1:0")
	t.Cleanup(f.stop)
	return f
}

func newFeed(t testing.TB) *feed {
	return &feed{t: t, subs: map[chan struct{}]bool{}, refusals: map[string]int{}, ping: 15 * time.Second}
}

// refusalsOf returns how many requests for path were refused.
func (f *feed) refusalsOf(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refusals[path]
}

// refusalTimes returns when the requests for path that were refused came.
func (f *feed) refusalTimes(path string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.refusedAt[path])
}

func (f *feed) URL() string { return "http://" + f.addr }

func (f *feed) set(st flags.State, version int64) {
	f.mu.Lock()
	epoch := f.epoch
	f.mu.Unlock()
	f.setEpoch(st, version, epoch)
}

// setEpoch serves st as version of the database epoch names.
func (f *feed) setEpoch(st flags.State, version int64, epoch string) {
	doc, err := wire.MarshalEpoch(&st, version, epoch)
	if err != nil {
		f.t.Fatalf("wire.Marshal: %v", err)
	}
	f.mu.Lock()
	f.doc, f.version, f.epoch = doc, version, epoch
	f.mu.Unlock()
}

// publish serves a new version and announces it on every open stream.
func (f *feed) publish(st flags.State, version int64) {
	f.mu.Lock()
	epoch := f.epoch
	f.mu.Unlock()
	f.publishEpoch(st, version, epoch)
}

// publishEpoch serves st as version of the database epoch names and
// announces it on every open stream.
func (f *feed) publishEpoch(st flags.State, version int64, epoch string) {
	f.setEpoch(st, version, epoch)
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// refuseWith makes every request get status (0: serve again) and ends the
// open streams, as a server does when a key is revoked.
func (f *feed) refuseWith(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = status
	close(f.quit)
	f.quit = make(chan struct{})
}

// stop ends every stream and closes the server; restart listens again on the
// same address.
func (f *feed) stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	if srv != nil {
		close(f.quit) // not replaced: a stream arriving now ends at once
	}
	f.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

func (f *feed) restart() { f.listen(f.addr) }

func (f *feed) listen(addr string) {
	f.t.Helper()
	var (
		l   net.Listener
		err error
	)
	for range 50 { // the port may take a moment to be free again
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = l
	f.mu.Lock()
	f.srv, f.addr, f.quit = srv, l.Addr().String(), make(chan struct{})
	f.mu.Unlock()
	srv.Start()
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	refuse := f.refuse
	f.mu.Unlock()
	switch {
	case r.Header.Get("Authorization") != "Bearer "+testKey:
		http.Error(w, "unknown key", http.StatusUnauthorized)
		return
	case refuse != 0:
		f.refused.Add(1)
		f.mu.Lock()
		f.refusals[r.URL.Path]++
		if f.refusedAt == nil {
			f.refusedAt = map[string][]time.Time{}
		}
		f.refusedAt[r.URL.Path] = append(f.refusedAt[r.URL.Path], time.Now())
		f.mu.Unlock()
		if refuse == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, http.StatusText(refuse), refuse)
		return
	case r.Method != http.MethodGet:
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/v1/snapshot":
		f.serveSnapshot(w, r)
	case "/v1/snapshot/events":
		f.serveEvents(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *feed) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	doc, version, epoch := f.doc, f.version, f.epoch
	f.mu.Unlock()
	etag := `"` + strconv.FormatInt(version, 10) + `"`
	if epoch != "" {
		etag = `"` + strconv.FormatInt(version, 10) + "-" + epoch + `"`
	}
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.notMod.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f.fetched.Add(1)
	if r.URL.Query().Get("format") == "2" {
		f.asked.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

func (f *feed) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher := w.(http.Flusher)
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	quit, ping := f.quit, f.ping
	f.subs[ch] = true
	f.mu.Unlock()
	f.streams.Add(1)
	f.connects.Add(1)
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
		f.streams.Add(-1)
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	announce := func() {
		f.mu.Lock()
		v, epoch := f.version, f.epoch
		f.mu.Unlock()
		if epoch == "" {
			fmt.Fprintf(w, "event: snapshot\ndata: {\"version\":%d}\n\n", v)
		} else {
			fmt.Fprintf(w, "event: snapshot\ndata: {\"version\":%d,\"epoch\":%q}\n\n", v, epoch)
		}
		flusher.Flush()
		f.sent.Store(v)
	}
	announce()
	tick := time.NewTicker(ping)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-quit:
			return
		case <-ch:
			announce()
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
			flusher.Flush()
		}
	}
}
