package provider_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
)

// TestShutdownStopsGoroutines: after Shutdown, no goroutine started since
// the provider was created runs the provider's code or holds one of its
// HTTP connections (goleak-style: compare goroutine ids with a baseline,
// retrying while they wind down). Not parallel, so that no other test's
// goroutines come and go meanwhile.
func TestShutdownStopsGoroutines(t *testing.T) {
	f := startFeed(t, scenario(), 1)
	path := tempPath(t, "snapshot.json")
	writeSnapshot(t, path, scenario(), 1)

	before := goroutines()
	p := newProvider(t, f.URL(), provider.PollInterval(10*time.Millisecond), provider.CacheFile(tempPath(t, "cache.json")))
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	fp, err := provider.NewFromFile(path, provider.WatchFile(time.Millisecond), provider.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := fp.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // a few polls and file checks
	if len(leaked(before)) == 0 {
		t.Fatalf("no provider goroutine seen while running: the check below would prove nothing")
	}

	p.Shutdown()
	p.Shutdown() // idempotent
	fp.Shutdown()
	eventually(t, time.Second, "server sees the event stream closed", func() bool { return f.streams.Load() == 0 })
	deadline := time.Now().Add(patience)
	for {
		left := leaked(before)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Shutdown:\n\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutines returns the stacks of all goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := strings.Cut(string(g), "\n")
		id, _, _ := strings.Cut(strings.TrimPrefix(header, "goroutine "), " ")
		out[id] = string(g)
	}
	return out
}

// leaked lists goroutines absent from before that run the provider's code
// or a client connection of its HTTP transport.
func leaked(before map[string]string) []string {
	var out []string
	for id, stack := range goroutines() {
		if _, ok := before[id]; ok {
			continue
		}
		if strings.Contains(stack, "ramp/flags/provider.") || strings.Contains(stack, "net/http.(*persistConn)") {
			out = append(out, stack)
		}
	}
	return out
}
