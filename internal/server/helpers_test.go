package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// Secrets the fake authenticator knows.
const (
	sdkKey     = "ramp_sdk_test"
	sdkKey2    = "ramp_sdk_other"
	adminKey   = "ramp_admin_test"
	revokedKey = "ramp_sdk_revoked"
	brokenKey  = "ramp_sdk_broken" // the check itself fails
)

// fakeAuth is an in-memory Authenticator: no throttling, no reloads (the
// real one, over a store, is newStoreAuth's).
type fakeAuth struct {
	mu      sync.Mutex
	keys    map[string]server.Principal
	revoked map[string]bool
}

func newFakeAuth() *fakeAuth {
	key := func(name string, role auth.Role) server.Principal {
		return server.Principal{Name: "key:" + name, Kind: auth.KindKey, Role: role, CredentialID: "key:" + name}
	}
	return &fakeAuth{
		keys: map[string]server.Principal{
			sdkKey:     key("checkout", auth.RoleSDK),
			sdkKey2:    key("search", auth.RoleSDK),
			adminKey:   key("ops", auth.RoleAdmin),
			revokedKey: key("old", auth.RoleSDK),
		},
		revoked: map[string]bool{revokedKey: true},
	}
}

func (a *fakeAuth) Authenticate(r *http.Request) (server.Principal, error) {
	if auth.SecretInQuery(r.URL) {
		return server.Principal{}, auth.ErrSecretInQuery
	}
	secret, err := auth.ParseCredential(r.Header)
	if err != nil {
		return server.Principal{}, err
	}
	return a.check(secret)
}

func (a *fakeAuth) check(secret string) (server.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if secret == brokenKey {
		return server.Principal{}, errors.New("key store unreachable")
	}
	if a.revoked[secret] {
		return server.Principal{}, auth.ErrUnknownCredential
	}
	p, ok := a.keys[secret]
	if !ok {
		return server.Principal{}, auth.ErrUnknownCredential
	}
	return p, nil
}

// newStoreAuth is ramp serve's authenticator over a store's credentials,
// with options (FailureLimit -1 when none is given: tests that want the
// limit set it), closed when the test ends.
func newStoreAuth(t testing.TB, s *store.Store, opts ...auth.Options) *auth.Checker {
	t.Helper()
	opt := auth.Options{FailureLimit: -1}
	if len(opts) > 0 {
		opt = opts[0]
	}
	c, err := admin.New(s).Authenticator(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createKey makes an sdk key in the store and returns its secret.
func createKey(t *testing.T, s *store.Store, name string) string {
	t.Helper()
	secret, _, err := s.CreateKey(context.Background(), name, store.RoleSDK, "tester")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// createAdminKey makes an admin key in the store and returns its secret.
func createAdminKey(t *testing.T, s *store.Store, name string) string {
	t.Helper()
	secret, _, err := s.CreateKey(context.Background(), name, store.RoleAdmin, "tester")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// openStore opens a new database with the demo scenario applied and returns
// it with its DSN: a SQLite file in a temporary directory or, when
// $RAMP_TEST_DSN names a Postgres database (the second pass of `make
// test`), a schema of its own in that database.
func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	dsn := testdb.DSN(t)
	if pg := os.Getenv("RAMP_TEST_DSN"); !testdb.IsPostgres(pg) && os.Getenv("RAMP_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("RAMP_REQUIRE_POSTGRES=1 and RAMP_TEST_DSN is not a postgres:// URL (%q)", pg)
	}
	s := openPath(t, dsn)
	applyFile(t, s, filepath.Join("..", "..", "testdata", "scenario.yaml"))
	return s, dsn
}

// openPath opens another handle on a database, as another process would.
func openPath(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func applyFile(t *testing.T, s *store.Store, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	current, _, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desired := doc.Resolve(&current)
	if err := doc.Validate(&desired); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, &desired, flags.Diff(&current, &desired, false), "tester"); err != nil {
		t.Fatal(err)
	}
}

// revision returns the store's revision.
func revision(t *testing.T, s *store.Store) store.Revision {
	t.Helper()
	rev, err := s.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// engine compiles what the store holds, as the server reads it, for
// comparing answers with.
func engine(t *testing.T, s *store.Store) *flags.Snapshot {
	t.Helper()
	cfg, err := s.Configuration(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := flags.Compile(ramp.Compose(&cfg), cfg.Revision.Version)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// running is a server started on a loopback port.
type running struct {
	t    testing.TB
	URL  string
	stop context.CancelFunc
	done chan error
	log  *syncBuffer
	once sync.Once
	err  error
}

// start serves cfg on 127.0.0.1:0 until the test ends (or stop is called).
// Unset Auth means the fake authenticator.
func start(t testing.TB, cfg server.Config) *running {
	t.Helper()
	if cfg.Auth == nil && !cfg.InsecureNoAuth {
		cfg.Auth = newFakeAuth()
	}
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, URL: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1), log: logs}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := r.shutdown(15 * time.Second); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

// shutdown stops the server and waits for Serve to return, at most d.
func (r *running) shutdown(d time.Duration) error {
	r.once.Do(func() {
		r.stop()
		select {
		case r.err = <-r.done:
		case <-time.After(d):
			r.err = errors.New("Serve did not return in time")
		}
	})
	return r.err
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var client = &http.Client{Timeout: 10 * time.Second}

// do sends a request with a key (none when key is "") and returns the
// response with its body read.
func do(t *testing.T, method, url, key, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func evalBody(ctx map[string]any) string {
	b, _ := json.Marshal(map[string]any{"context": ctx})
	return string(b)
}

// sseEvent is one event read from a stream.
type sseEvent struct {
	ID, Event, Data string
	Comments        []string
}

// sse opens an event stream and delivers its events on a channel, closed
// when the stream ends.
func sse(t *testing.T, url, key string, header ...string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := (&http.Client{}).Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Data != "" || ev.Event != "" || len(ev.Comments) > 0 {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comments = append(ev.Comments, strings.TrimSpace(line[1:]))
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[len("id: "):]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Data += line[len("data: "):]
			}
		}
	}()
	return resp, ch
}

// patience is how long a test waits for something that must happen before
// it fails: far longer than anything takes on an idle machine, because a
// loaded one running the race detector can hold a goroutine back for
// seconds. Tests assert what happens and wait for it; how fast is for
// benchmarks and the tests' log lines.
const patience = 30 * time.Second

// next waits for the next event that is not only a comment. within is how
// long it usually takes: a longer wait is logged, and the test fails only
// if no event comes within patience (or within, if longer).
func next(t *testing.T, ch <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	start := time.Now()
	limit := max(within, patience)
	deadline := time.After(limit)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended")
			}
			if ev.Data == "" && ev.Event == "" {
				continue
			}
			if took := time.Since(start); took > within {
				t.Logf("slow: the next event came after %s (usually within %s)", took.Round(time.Millisecond), within)
			}
			return ev
		case <-deadline:
			t.Fatalf("no event within %s", limit)
		}
	}
}
