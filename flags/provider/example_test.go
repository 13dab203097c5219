package provider_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/flags/wire"
)

func checkoutState() flags.State {
	return flags.State{Flags: []flags.Flag{{
		Key: "new-checkout", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
		DefaultVariant: "off",
		Rules:          []flags.Rule{{Name: "us-first", Regions: []string{"US"}, Serve: "on"}},
	}}}
}

func ExampleNew() {
	// A stand-in for `ramp serve`: the snapshot feed, at version 1.
	st := checkoutState()
	doc, _ := wire.Marshal(&st, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/snapshot":
			w.Header().Set("ETag", `"1"`)
			if r.Header.Get("If-None-Match") == `"1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Write(doc)
		case "/v1/snapshot/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "event: snapshot\ndata: {\"version\":1}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()

	// In a service: the address of ramp serve, an SDK key from its secrets,
	// and a cache file on local disk, so that it starts even if ramp is down.
	cacheDir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(cacheDir)
	p, err := provider.New(srv.URL, "sdk-key",
		provider.CacheFile(filepath.Join(cacheDir, "ramp-snapshot.json")),
		provider.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := openfeature.SetProviderAndWait(p); err != nil {
		fmt.Println(err)
		return
	}
	defer openfeature.Shutdown()

	client := openfeature.NewDefaultClient()
	ctx := context.Background()
	us, _ := client.BooleanValueDetails(ctx, "new-checkout", false,
		openfeature.NewEvaluationContext("user-1", map[string]any{"region": "US"}))
	fmt.Println(us.Value, us.Variant, us.Reason, us.FlagMetadata["rule"])
	fr, _ := client.BooleanValueDetails(ctx, "new-checkout", false,
		openfeature.NewEvaluationContext("user-2", map[string]any{"region": "FR"}))
	fmt.Println(fr.Value, fr.Variant, fr.Reason)
	_, err = client.BooleanValue(ctx, "no-such-flag", false, openfeature.NewEvaluationContext("user-1", nil))
	fmt.Println(err)
	// Output:
	// true on TARGETING_MATCH us-first
	// false off DEFAULT
	// error code: FLAG_NOT_FOUND: flag "no-such-flag" not found
}

func ExampleNewFromFile() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "snapshot.json")
	st := checkoutState()
	doc, _ := wire.Marshal(&st, 42) // or the file a CacheFile option wrote
	os.WriteFile(path, doc, 0o600)

	p, err := provider.NewFromFile(path, provider.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := openfeature.SetProviderAndWait(p); err != nil {
		fmt.Println(err)
		return
	}
	defer openfeature.Shutdown()

	client := openfeature.NewDefaultClient()
	on := client.Boolean(context.Background(), "new-checkout", false,
		openfeature.NewEvaluationContext("user-1", map[string]any{"region": "US"}))
	fmt.Println(on, p.Snapshot().Version())
	// Output: true 42
}
