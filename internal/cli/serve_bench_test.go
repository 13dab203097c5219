package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/server"
)

// BenchmarkServeOFREP drives the handler `ramp serve` builds, as wired in
// production (the active keys checked by admin.Keyring, a rate limit per
// key, Prometheus metrics, slog at info), with in-memory requests shaped
// like testdata/bench/ofrep-wrk.sh's: the configuration of
// testdata/bench/fifty-flags.yaml and contexts whose targeting key varies,
// so splits are exercised. It measures the handler alone, without the
// network or net/http's connection handling; the wrk script measures both.
func BenchmarkServeOFREP(b *testing.B) {
	h, secret := benchServer(b)
	bodies := benchBodies(1000)
	b.Run("single", func(b *testing.B) {
		benchHandler(b, h, "/ofrep/v1/evaluate/flags/bench-flag-01", secret, bodies)
	})
	b.Run("bulk", func(b *testing.B) {
		benchHandler(b, h, "/ofrep/v1/evaluate/flags", secret, bodies)
	})
}

// benchServer serves the fifty-flag benchmark configuration from a SQLite
// file, with one sdk key among ten, and returns the handler and the key.
func benchServer(b *testing.B) (http.Handler, string) {
	b.Helper()
	b.Setenv("RAMP_ACTOR", "bench")
	db := filepath.Join(b.TempDir(), "bench.db")
	ios, _, _, errOut := Test()
	if code := Execute(context.Background(), []string{"--db", db, "apply", "-f", filepath.Join("..", "..", "testdata", "bench", "fifty-flags.yaml")}, ios); code != ExitOK {
		b.Fatalf("apply: exit %d: %s", code, errOut)
	}
	ctx, cancel := context.WithCancel(admin.WithActor(context.Background(), "bench"))
	s, err := admin.Open(ctx, db, admin.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var secret string
	for i := range 10 {
		k, err := s.CreateKey(ctx, admin.CreateKeyRequest{Name: fmt.Sprintf("service-%d", i), Role: admin.RoleSDK})
		if err != nil {
			b.Fatal(err)
		}
		if i == 5 {
			secret = k.Secret
		}
	}
	checker, err := s.Authenticator(ctx, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer checker.Close()
	srv, err := server.New(server.Config{
		Source:    s,
		Auth:      checker,
		RateLimit: 1e9, // on, as in production, but never reached
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
		s.Close()
	})
	h := srv.Handler()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w := newDiscardWriter()
		h.ServeHTTP(w, httpRequest(http.MethodGet, "/readyz", "", nil))
		if w.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the server never became ready")
		}
	}
	return h, secret
}

// benchBodies returns n request bodies like testdata/bench/single.lua's.
func benchBodies(n int) [][]byte {
	regions := []string{"US", "CA", "BR", "FR", "MX", "IN"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"context":{"targetingKey":"user-%d","region":"%s","appVersion":"%d.1.0","accountCenterId":"ac-%d"}}`,
			i, regions[i%len(regions)], 290+i%30, i%500)
	}
	return out
}

func benchHandler(b *testing.B, h http.Handler, path, secret string, bodies [][]byte) {
	body := &benchBody{}
	r := httpRequest(http.MethodPost, path, secret, body)
	w := newDiscardWriter()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		body.Reset(bodies[i%len(bodies)])
		r.ContentLength = int64(body.Len())
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d: %s", w.status, w.body.Bytes())
		}
		i++
	}
}

func httpRequest(method, path, secret string, body io.ReadCloser) *http.Request {
	r, err := http.NewRequest(method, "http://127.0.0.1"+path, body)
	if err != nil {
		panic(err)
	}
	r.RemoteAddr = "127.0.0.1:40000"
	r.RequestURI = path
	r.Header.Set("Content-Type", "application/json")
	if secret != "" {
		r.Header.Set("Authorization", "Bearer "+secret)
	}
	return r
}

// benchBody is a request body that can be refilled.
type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps the status and the last
// body, reusing its header map and buffer.
type discardWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

func (w *discardWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body.Reset()
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
