package tracking_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/tracking"
)

func TestHTTPSink(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		rejected   bool
		retryAfter time.Duration
	}{
		{"stored", http.StatusOK, nil, `{"events":1,"exposures":0}`, false, 0},
		{"a bad item", http.StatusBadRequest, nil, `{"errorCode":"INVALID_ITEM","errorDetails":"events[0].id: missing"}`, true, 0},
		{"the key refused", http.StatusUnauthorized, nil, ``, true, 0},
		{"too large", http.StatusRequestEntityTooLarge, nil, ``, true, 0},
		{"rate limited", http.StatusTooManyRequests, map[string]string{"Retry-After": "3"}, ``, false, 3 * time.Second},
		{"busy", http.StatusServiceUnavailable, map[string]string{"Retry-After": "1"}, ``, false, time.Second},
		{"failing", http.StatusInternalServerError, nil, ``, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotPath, gotBody string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			sink, err := tracking.NewHTTPSink(srv.URL+"/", "ramp_sdk_secret", srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			err = sink.WriteEvents(context.Background(), []tracking.Event{{ID: "e1", Name: "dm_reply", Value: 1, Time: now, Units: map[string]string{"targetingKey": "ig-1"}}})
			if gotAuth != "Bearer ramp_sdk_secret" || gotPath != tracking.TrackPath || !strings.Contains(gotBody, `"id":"e1"`) {
				t.Errorf("request: auth %q path %q body %s", gotAuth, gotPath, gotBody)
			}
			if tt.status == http.StatusOK {
				if err != nil {
					t.Fatalf("WriteEvents: %v", err)
				}
				return
			}
			he, ok := errors.AsType[*tracking.HTTPError](err)
			if !ok || he.Status != tt.status {
				t.Fatalf("err %v, want an *HTTPError with status %d", err, tt.status)
			}
			if errors.Is(err, tracking.ErrRejected) != tt.rejected || he.RetryAfter() != tt.retryAfter {
				t.Errorf("rejected %v retryAfter %v; want %v %v", errors.Is(err, tracking.ErrRejected), he.RetryAfter(), tt.rejected, tt.retryAfter)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}

func TestNewHTTPSinkRefuses(t *testing.T) {
	for _, c := range []struct{ url, key string }{{"ftp://x", "k"}, {"http://", "k"}, {"http://x", ""}, {"::", "k"}} {
		if _, err := tracking.NewHTTPSink(c.url, c.key, nil); err == nil {
			t.Errorf("NewHTTPSink(%q, %q) = nil error", c.url, c.key)
		}
	}
}

// TestHTTPSinkSplitsLargeBatches: a batch whose body would exceed the
// endpoint's limits is posted in parts that fit, and every item arrives
// once; the server here enforces the limits as `ramp serve` does.
func TestHTTPSinkSplitsLargeBatches(t *testing.T) {
	long := strings.Repeat("u", tracking.MaxUnitLen-10) // a long but valid unit
	tests := []struct {
		name   string
		events int
		unit   func(i int) string
	}{
		{"bodies over MaxBody", 6000, func(i int) string { return fmt.Sprint(long, i) }},
		{"more items than MaxBatchItems", 25000, func(i int) string { return fmt.Sprint("ig-", i) }},
		{"one small batch", 3, func(i int) string { return fmt.Sprint("ig-", i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string]int{}
			posts, largest := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tracking.MaxBody))
				if err != nil {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return
				}
				batch, err := tracking.DecodeBatch(b, now, nil)
				if err != nil {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, err.Error())
					return
				}
				mu.Lock()
				defer mu.Unlock()
				posts, largest = posts+1, max(largest, len(b))
				for _, e := range batch.Events {
					got[e.ID]++
				}
			}))
			defer srv.Close()
			sink, err := tracking.NewHTTPSink(srv.URL, "ramp_sdk_secret", srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			batch := make([]tracking.Event, tt.events)
			for i := range batch {
				batch[i] = tracking.Event{ID: fmt.Sprint("e", i), Name: "dm_reply", Value: 1, Time: now, Units: map[string]string{"targetingKey": tt.unit(i)}}
			}
			if err := sink.WriteEvents(context.Background(), batch); err != nil {
				t.Fatalf("WriteEvents: %v", err)
			}
			if len(got) != tt.events {
				t.Fatalf("%d distinct events arrived, want %d", len(got), tt.events)
			}
			for id, n := range got {
				if n != 1 {
					t.Fatalf("event %s arrived %d times", id, n)
				}
			}
			if largest > tracking.MaxBody {
				t.Errorf("largest body %d bytes, over %d", largest, tracking.MaxBody)
			}
			t.Logf("%d events in %d posts, largest body %d bytes", tt.events, posts, largest)
		})
	}
}
