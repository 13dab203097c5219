// Command gencsv writes a cohort CSV file (user_id,region) of random,
// reproducible users for tests and benchmarks of ramp cohorts import:
//
//	go run ./internal/tools/gencsv -rows 1000000 -o /tmp/1m.csv
//	go run ./internal/tools/gencsv -rows 10000 -seed 2 -o /tmp/10k.csv
//
// Ids are "u" and 16 hex digits drawn from a PCG seeded with -seed, so two
// runs with one seed write the same file; regions follow a rough
// distribution of a global user base.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

func main() {
	rows := flag.Int("rows", 1000, "data rows to write")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "-", "output file (- for stdout; .gz compresses)")
	flag.Parse()
	if err := run(*rows, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencsv:", err)
		os.Exit(1)
	}
}

var regions = strings.Fields("US US US US IN IN IN BR BR ID MX GB DE FR JP PH VN TR EG IT NG CA ES AR KR PL")

func run(rows int, seed uint64, out string) error {
	var w io.Writer = os.Stdout
	var closers []func() error
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		w = f
		closers = append(closers, f.Close)
		if strings.HasSuffix(out, ".gz") {
			zw := gzip.NewWriter(f)
			w = zw
			closers = append([]func() error{zw.Close}, closers...)
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bw.WriteString("user_id,region\n")
	buf := make([]byte, 0, 64)
	for range rows {
		buf = append(buf[:0], 'u')
		h := strconv.AppendUint(nil, rng.Uint64(), 16)
		for range 16 - len(h) {
			buf = append(buf, '0')
		}
		buf = append(buf, h...)
		buf = append(buf, ',')
		buf = append(buf, regions[rng.IntN(len(regions))]...)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	for _, c := range closers {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}
