package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

// readBody reads a request body of at most MaxBody bytes. When it cannot, it
// answers the request (413 for a body too large) and returns false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > s.cfg.MaxBody {
		tooLarge(w, s.cfg.MaxBody)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge(w, s.cfg.MaxBody)
		return nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, ofrep.BulkFailure{ErrorCode: flags.ErrParse, ErrorDetails: "cannot read the request body"})
		return nil, false
	}
	return body, true
}

func tooLarge(w http.ResponseWriter, limit int64) {
	writeJSON(w, http.StatusRequestEntityTooLarge, ofrep.BulkFailure{ErrorCode: flags.ErrGeneral,
		ErrorDetails: "the request body is larger than " + strconv.FormatInt(limit, 10) + " bytes"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// evaluate answers POST /ofrep/v1/evaluate/flags/{key}: 200 with a decision,
// 404 FLAG_NOT_FOUND, 400 with any other error code.
func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	cur := s.live.current()
	var d flags.Decision
	if evalCtx, rerr := ofrep.DecodeRequest(body); rerr != nil {
		d = flags.Decision{Key: key, Reason: flags.ReasonError, ErrorCode: rerr.Code, ErrorDetails: rerr.Details, Rule: -1}
	} else {
		d = cur.snap.Evaluate(key, evalCtx)
	}
	s.metrics.evaluated(cur.snap, &d)
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	b, err := ofrep.AppendJSON((*bp)[:0], &d)
	*bp = b
	if err != nil {
		s.log.Error("cannot encode a decision", "flag", key, "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot encode the decision"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ofrep.Status(d.ErrorCode))
	_, _ = w.Write(b)
}

// bulk answers POST /ofrep/v1/evaluate/flags: every flag decided for the
// context, with an ETag over the configuration version and the body, and
// 304 when If-None-Match holds it.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	evalCtx, rerr := ofrep.DecodeRequest(body)
	if rerr != nil {
		writeJSON(w, http.StatusBadRequest, ofrep.BulkFailure{ErrorCode: rerr.Code, ErrorDetails: rerr.Details})
		return
	}
	cur := s.live.current()
	// A re-fetch prompted by an event stream names the version it heard of.
	// Behind a load balancer this replica may not have loaded it yet: look
	// now, and wait a little, rather than answer with the old one.
	if v, ok := versionOfTag(r.URL.Query().Get("flagConfigEtag")); ok && v > cur.version {
		s.live.Trigger()
		s.live.waitFor(r.Context(), v, time.Second)
		cur = s.live.current()
	}
	keys := cur.snap.Keys()
	ds := make([]flags.Decision, len(keys))
	for i, k := range keys {
		ds[i] = cur.snap.Evaluate(k, evalCtx)
		s.metrics.evaluated(cur.snap, &ds[i])
	}
	streams := []ofrep.EventStream{{Type: "sse", URL: s.streamURL(r), InactivityDelaySec: s.cfg.InactivityDelaySec}}
	out, err := ofrep.AppendBulkJSON(make([]byte, 0, 128*len(ds)+256), ds, cur.version, streams)
	if err != nil {
		s.log.Error("cannot encode a bulk evaluation", "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot encode the evaluation"})
		return
	}
	sum := sha256.Sum256(out)
	etag := `"` + strconv.FormatInt(cur.version, 10) + "-" + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// streamURL is the event-stream URL advertised to the caller: with a token
// standing for its key, since browsers cannot send headers on a stream. The
// token is the same for the whole of a TTL window, so that bulk answers (and
// their ETags) stay stable between configuration changes.
func (s *Server) streamURL(r *http.Request) string {
	base := s.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	u := base + "/ofrep/v1/events"
	if s.cfg.InsecureNoAuth {
		return u
	}
	return u + "?token=" + url.QueryEscape(s.tokens.mint(principalOf(r)))
}

// versionOfTag reads a configuration version out of an event stream's etag
// (`"42"`), as providers echo it in flagConfigEtag.
func versionOfTag(tag string) (int64, bool) {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
	v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
	return v, err == nil
}

// etagMatch reports whether an If-None-Match header holds etag (weak
// comparison, as RFC 9110 asks for If-None-Match; "*" matches anything).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
