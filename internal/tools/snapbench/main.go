// Command snapbench times what a server does on a new configuration
// version: read the state from a database, compile the snapshot and encode
// the wire document. It measures the snapshot rebuild after a large import
// (docs/BENCHMARKS.md):
//
//	go run ./internal/tools/snapbench -db /tmp/b.db            # Store.Configuration
//	go run ./internal/tools/snapbench -db /tmp/b.db -full      # Store.State
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/ramp-flags/ramp"
	"os"
	"runtime"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/store"
)

func main() {
	db := flag.String("db", "ramp.db", "database")
	full := flag.Bool("full", false, "read with Store.State (every id loaded) instead of Store.Configuration")
	flag.Parse()
	if err := run(*db, *full); err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
}

func run(dsn string, full bool) error {
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	read := func(ctx context.Context) (flags.State, int64, error) {
		cfg, err := s.Configuration(ctx)
		return ramp.Compose(&cfg), cfg.Revision.Version, err
	}
	if full {
		read = s.State
	}
	st, version, err := read(ctx)
	if err != nil {
		return err
	}
	tRead := time.Since(start)
	snap, err := flags.Compile(st, version)
	if err != nil {
		return err
	}
	tCompile := time.Since(start)
	doc, err := wire.Marshal(snap.State(), version)
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("read %v, +compile %v, +wire %v (%d MiB document), heap in use %d MiB\n",
		tRead.Round(time.Millisecond), tCompile.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		len(doc)>>20, ms.HeapInuse>>20)
	return nil
}
