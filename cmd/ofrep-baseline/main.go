// Command ofrep-baseline is the ceiling that `ramp serve` is measured
// against in docs/BENCHMARKS.md: a net/http server that answers every POST
// with a fixed 60-byte JSON body, doing no work at all. Run it through
// testdata/bench/ofrep-wrk.sh.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

// body is 60 bytes, about the size of a small OFREP decision.
const body = `{"key":"flag","value":true,"variant":"on","reason":"STATIC"}`

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("ofrep-baseline listening on %s (%d-byte body)", *addr, len(body))
	log.Fatal(srv.ListenAndServe())
}
