package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp/internal/ofrep"
)

// snapshot answers GET /v1/snapshot: the wire document of the configuration
// being served, with ETag "<version>-<epoch>"; 304 when If-None-Match holds
// it. A tag with the version alone (pre-epoch providers build it from the
// version they hold) never matches: it cannot say which database its
// version was from.
//
// With the query parameter format=2 (wire.FormatQuery) the document is a
// wire.FormatV2 manifest, which refers to member sets by ID (served by
// snapshotSet), made at each reload and gzipped for clients that take it;
// without, it is the whole wire.Format document that providers built
// before FormatV2 read, every member list inline, made on first request
// of each version.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	cur := s.live.current()
	h := w.Header()
	h.Set("ETag", cur.etag)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), cur.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := cur.manifest
	if !wantsManifest(r) {
		var err error
		if body, err = cur.wholeDoc(); err != nil {
			s.log.Error("encode the whole snapshot", "version", cur.version, "err", err)
			writeJSON(w, http.StatusInternalServerError, struct {
				ErrorDetails string `json:"errorDetails"`
			}{"cannot encode the snapshot"})
			return
		}
	} else if len(body) >= gzipMin && acceptsGzip(r) {
		if gz, err := cur.manifestGz.get(func() ([]byte, error) { return gzipped(cur.manifest) }); err == nil {
			body = gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	// Member lists can make the document large: give a slow reader time.
	extra := time.Duration(len(body)>>20) * time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(s.cfg.Now().Add(s.cfg.WriteTimeout + extra))
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// snapshotEvents answers GET /v1/snapshot/events: "event: snapshot" with
// data {"version":N,"epoch":"…"} on connect and for every new version or
// epoch.
func (s *Server) snapshotEvents(w http.ResponseWriter, r *http.Request, p Principal) {
	s.stream(w, r, p, "snapshot", func(*loaded) bool { return true }, func(cur *loaded) []byte {
		data, _ := json.Marshal(snapshotEvent{Version: cur.version, Epoch: cur.epoch})
		return []byte("event: snapshot\ndata: " + string(data) + "\n\n")
	})
}

// snapshotEvent is the data of a snapshot event.
type snapshotEvent struct {
	Version int64  `json:"version"`
	Epoch   string `json:"epoch,omitempty"`
}

// ofrepEvents answers GET /ofrep/v1/events, the stream bulk answers
// advertise (ADR-0008): a refetchEvaluation message for every new version
// (or epoch). Its id is "<version>-<epoch>", the ETag unquoted: a client
// reconnecting with a Last-Event-ID other than that of the configuration
// being served hears of it at once.
func (s *Server) ofrepEvents(w http.ResponseWriter, r *http.Request, p Principal) {
	last := r.Header.Get("Last-Event-ID")
	s.stream(w, r, p, "ofrep", func(cur *loaded) bool {
		return last != "" && last != feedTag(cur.version, cur.epoch)
	}, func(cur *loaded) []byte {
		data, _ := json.Marshal(ofrep.Event{Type: ofrep.EventRefetch, ETag: cur.etag, LastModified: cur.loadedAt.Unix()})
		return []byte("id: " + feedTag(cur.version, cur.epoch) + "\nevent: message\ndata: " + string(data) + "\n\n")
	})
}

// stream serves a text/event-stream until the client leaves or the server
// shuts down: msg for the configuration current at connect when first says
// so, then msg for each new configuration (versions that follow each other
// faster than the client reads are merged into the newest), and a ": ping"
// comment every Ping. Every message is flushed. The stream is exempt from
// the server's read and write timeouts; each write has a deadline of its
// own, so a client that stops reading is dropped. It ends when the key it
// was opened with (p's) is revoked: the authenticator's keys are refreshed
// before each new version is served, and every stream then asks whether
// its key is still active.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p Principal, name string, first func(*loaded) bool, msg func(*loaded) []byte) {
	// Listen for refreshes before looking at the key, so that a revocation
	// between the request's authentication and now is not missed.
	refreshed := s.keys.wait()
	if !s.keyActive(p) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ramp"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	gauge := s.metrics.streams.WithLabelValues(name)
	gauge.Inc()
	defer gauge.Dec()

	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(s.cfg.Now().Add(s.cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	revoked := func() {
		s.log.Info("event stream ended: its key was revoked", "stream", name, "key", p.Name)
	}
	cur := s.live.current()
	w.WriteHeader(http.StatusOK)
	if first(cur) {
		if !write(msg(cur)) {
			return
		}
	} else if !write(nil) { // sends the header
		return
	}
	ping := time.NewTicker(s.cfg.Ping)
	defer ping.Stop()
	for {
		select {
		case <-refreshed:
			refreshed = s.keys.wait()
			if !s.keyActive(p) {
				revoked()
				return
			}
		case <-cur.next:
			// The keys were refreshed before this version was published:
			// a revoked key hears nothing of it.
			if !s.keyActive(p) {
				revoked()
				return
			}
			cur = s.live.current()
			if !write(msg(cur)) {
				return
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// reload answers POST /v1/reload (admin): check the store now and answer
// with the version (and epoch) served once the stored one is loaded (or
// after 5 s).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	stored, err := s.cfg.Source.Revision(r.Context())
	if err != nil {
		s.log.Error("reload: cannot read the configuration version", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot read the configuration version"})
		return
	}
	s.live.Trigger()
	s.live.waitFor(r.Context(), stored, 5*time.Second)
	cur := s.live.current()
	writeJSON(w, http.StatusOK, struct {
		Version     int64  `json:"version"`
		Epoch       string `json:"epoch,omitempty"`
		Stored      int64  `json:"stored"`
		StoredEpoch string `json:"storedEpoch,omitempty"`
	}{cur.version, cur.epoch, stored.Version, stored.Epoch})
}

// healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when a configuration is loaded and the store answered
// recently (within ten poll intervals, and at least 5 s), else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	cur := s.live.current()
	since := s.live.sinceContact()
	limit := max(10*s.cfg.Poll, 5*time.Second)
	type status struct {
		Ready            bool    `json:"ready"`
		Version          int64   `json:"version,omitempty"`
		Epoch            string  `json:"epoch,omitempty"`
		StoreContactSecs float64 `json:"storeContactAgeSeconds,omitempty"`
		Problem          string  `json:"problem,omitempty"`
	}
	switch {
	case cur == nil:
		writeJSON(w, http.StatusServiceUnavailable, status{Problem: "no configuration loaded yet"})
	case since > limit:
		writeJSON(w, http.StatusServiceUnavailable, status{Version: cur.version, Epoch: cur.epoch, StoreContactSecs: since.Seconds(),
			Problem: "the store has not answered for " + since.Round(time.Second).String()})
	default:
		writeJSON(w, http.StatusOK, status{Ready: true, Version: cur.version, Epoch: cur.epoch, StoreContactSecs: since.Seconds()})
	}
}
