package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// bodyServer is just enough of a Server to run readBody and the evaluate
// handler up to the point where the body is read.
func bodyServer(maxBody int64) *Server {
	s := &Server{cfg: Config{MaxBody: maxBody}}
	s.scratch.New = newScratch
	return s
}

// stallingBody sends its first bytes, then stalls as a slow client does:
// it says it has got there on reached and waits for release before it
// fails as a dropped connection would.
type stallingBody struct {
	first   string
	reached chan<- struct{}
	release <-chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.first != "" {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	b.reached <- struct{}{}
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

// TestStalledBodiesHoldNoMemory: requests that declare a 1 MiB body, send a
// few bytes and stall hold what they sent, not what they declared (issue
// #11, item 4: 500 such connections took the server from 61 to 552 MB).
func TestStalledBodiesHoldNoMemory(t *testing.T) {
	const requests = 64
	s := bodyServer(DefaultMaxBody)
	reached := make(chan struct{}, requests)
	release := make(chan struct{})
	statuses := make(chan int, requests)

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range requests {
		r := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags/f",
			&stallingBody{first: `{"context":{"targetingKey":"u`, reached: reached, release: release})
		r.ContentLength = 1 << 20
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.evaluate(w, r, Principal{})
			statuses <- w.Code
		})
	}
	deadline := time.After(30 * time.Second) // for a loaded machine; never a measure of speed
	for range requests {
		select {
		case <-reached:
		case <-deadline:
			close(release)
			t.Fatal("the handlers did not all reach their stalled bodies within 30 s")
		}
	}
	runtime.ReadMemStats(&during)
	close(release)
	wg.Wait()
	close(statuses)
	for code := range statuses {
		if code != http.StatusBadRequest {
			t.Errorf("a body cut short answered %d, want 400", code)
		}
	}
	perRequest := (during.TotalAlloc - before.TotalAlloc) / requests
	t.Logf("allocated %d bytes a stalled request", perRequest)
	if perRequest > 64<<10 {
		t.Errorf("%d stalled requests declaring 1 MiB allocated %d bytes each, want < 64 KiB", requests, perRequest)
	}
}

// TestReadBody: whole bodies as they arrive, 413 past the limit whether or
// not it was declared, 400 for a body cut short.
func TestReadBody(t *testing.T) {
	const limit = 4 << 10
	tests := []struct {
		name    string
		body    io.Reader
		length  int64 // declared; -1 for unknown
		want    string
		status  int // 0: read
		maxCap  int // the buffer's capacity after, at most (0: unchecked)
		readErr bool
	}{
		{name: "declared", body: strings.NewReader(`{"context":{}}`), length: 14, want: `{"context":{}}`, maxCap: 512},
		{name: "unknown length", body: strings.NewReader(`{"context":{}}`), length: -1, want: `{"context":{}}`, maxCap: 512},
		{name: "empty", body: http.NoBody, length: 0, want: ""},
		{name: "exactly the limit, declared", body: strings.NewReader(strings.Repeat("x", limit)), length: limit,
			want: strings.Repeat("x", limit), maxCap: limit},
		{name: "exactly the limit, unknown length", body: strings.NewReader(strings.Repeat("x", limit)), length: -1,
			want: strings.Repeat("x", limit), maxCap: limit + 1},
		{name: "larger than declared", body: strings.NewReader(`{"context":{}}trailing`), length: 14, want: `{"context":{}}`},
		{name: "declared over the limit is not read", body: failingReader{t}, length: limit + 1, status: 413},
		{name: "over the limit, unknown length", body: strings.NewReader(strings.Repeat("x", 3*limit)), length: -1, status: 413},
		{name: "one byte at a time", body: &oneByteReader{s: `{"context":{"a":1}}`}, length: 19, want: `{"context":{"a":1}}`, maxCap: 512},
		{name: "cut short", body: io.MultiReader(strings.NewReader(`{"con`), errReader{}), length: 100, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bodyServer(limit)
			r := httptest.NewRequest(http.MethodPost, "/", tt.body)
			r.ContentLength = tt.length
			w := httptest.NewRecorder()
			got, ok := s.readBody(w, r, make([]byte, 0, 512))
			if tt.status != 0 {
				if ok || w.Code != tt.status {
					t.Fatalf("read %v, answered %d; want %d", ok, w.Code, tt.status)
				}
				if tt.status == 413 && !strings.Contains(w.Body.String(), "larger than 4096 bytes") {
					t.Errorf("413 body %s", w.Body)
				}
				return
			}
			if !ok {
				t.Fatalf("not read: answered %d %s", w.Code, w.Body)
			}
			if string(got) != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
			if tt.maxCap > 0 && cap(got) > tt.maxCap {
				t.Errorf("buffer grew to %d for a %d-byte body, want at most %d", cap(got), len(got), tt.maxCap)
			}
		})
	}
}

// TestScratchPoolCap: a buffer grown past maxPooledBytes by one large
// request is dropped, not kept in the pool.
func TestScratchPoolCap(t *testing.T) {
	s := bodyServer(DefaultMaxBody)
	big := newScratch().(*scratch)
	big.body = make([]byte, 0, 1<<20)
	s.putScratch(big)
	for range 100 {
		if sc := s.getScratch(); cap(sc.body) > maxPooledBytes {
			t.Fatalf("the pool handed out a %d-byte buffer", cap(sc.body))
		}
	}
}

type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("a body declared over the limit was read")
	return 0, io.EOF
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
