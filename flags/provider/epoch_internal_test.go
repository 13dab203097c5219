package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSupersedes(t *testing.T) {
	held := func(version int64, epoch string) *loaded { return &loaded{version: version, epoch: epoch} }
	for _, tc := range []struct {
		name    string
		held    *loaded
		version int64
		epoch   string
		want    bool
	}{
		{"nothing held", nil, 1, "", true},
		{"newer, same database", held(57, "a"), 58, "a", true},
		{"same version, same database", held(57, "a"), 57, "a", false},
		{"older, same database (a lagging replica)", held(57, "a"), 56, "a", false},
		{"older, another database", held(57, "a"), 3, "b", true},
		{"same version, another database", held(57, "a"), 57, "b", true},
		{"newer, no epochs", held(57, ""), 58, "", true},
		{"older, no epochs", held(57, ""), 3, "", false},
		{"older, without an epoch (an old server)", held(57, "a"), 3, "", false},
		{"newer, without an epoch (an old server)", held(57, "a"), 58, "", true},
		{"same version, without an epoch (an old server)", held(57, "a"), 57, "", false},
		{"same version, epoch learnt", held(57, ""), 57, "a", true},
		{"older, held without an epoch", held(57, ""), 3, "a", false},
		{"newer, held without an epoch", held(57, ""), 58, "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := supersedes(tc.held, tc.version, tc.epoch); got != tc.want {
				t.Errorf("supersedes(%+v, %d, %q) = %v, want %v", tc.held, tc.version, tc.epoch, got, tc.want)
			}
		})
	}
}

// TestLaggingAnnouncementNotFetched: the event stream's announcement of a
// version the provider would not install (a lagging replica's, or the one
// held) does not even ask for a fetch; a newer version, or another
// database's, does. The stream is read to its end before the wake-up
// channel is looked at, so nothing here depends on timing.
func TestLaggingAnnouncementNotFetched(t *testing.T) {
	for _, tc := range []struct {
		name      string
		announced string
		fetch     bool
	}{
		{"older, same database (a lagging replica)", `{"version":2,"epoch":"b"}`, false},
		{"the version held", `{"version":4,"epoch":"b"}`, false},
		{"older, without an epoch (an old server)", `{"version":2}`, false},
		{"newer, same database", `{"version":5,"epoch":"b"}`, true},
		{"older, another database", `{"version":3,"epoch":"c"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", tc.announced)
			}))
			defer srv.Close()
			p, err := New(srv.URL, "k", Logger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			p.current.Store(&loaded{version: 4, epoch: "b"})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &run{ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
			if connected, err := p.stream(r); !connected || err != nil {
				t.Fatalf("stream: connected %v, %v", connected, err)
			}
			select {
			case <-r.wake:
				if !tc.fetch {
					t.Errorf("holding version 4 of database b, %s asked for a fetch", tc.announced)
				}
			default:
				if tc.fetch {
					t.Errorf("holding version 4 of database b, %s did not ask for a fetch", tc.announced)
				}
			}
		})
	}
}
