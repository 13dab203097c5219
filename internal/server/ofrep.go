package server

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

// scratch is the memory one evaluation request works in, pooled: the body
// as read, the context decoded from it and the answer as written.
type scratch struct {
	body []byte
	ctx  map[string]any
	out  []byte
}

// Scratch buffers and maps that grew past these are dropped rather than
// pooled, so that one large request does not pin its memory.
const (
	maxPooledBytes   = 64 << 10
	maxPooledContext = 64
)

// newScratch is the scratch pool's New: small buffers, grown by the
// requests that need more.
func newScratch() any {
	return &scratch{body: make([]byte, 0, 512), ctx: make(map[string]any, 8), out: make([]byte, 0, 512)}
}

func (s *Server) getScratch() *scratch { return s.scratch.Get().(*scratch) }

func (s *Server) putScratch(sc *scratch) {
	if cap(sc.body) > maxPooledBytes || cap(sc.out) > maxPooledBytes || len(sc.ctx) > maxPooledContext {
		return
	}
	clear(sc.ctx)
	s.scratch.Put(sc)
}

// readBody reads a request body of at most MaxBody bytes into buf (a pooled
// scratch buffer), as the bytes arrive: buf grows with what was received,
// doubling up to the declared Content-Length, never to what a client merely
// declares. A client that declares 1 MiB and sends ten bytes, or nothing,
// holds the buffer it started with. When it cannot read the body, it
// answers the request (413 for a body declared or found larger than
// MaxBody, 400 for one cut short) and returns false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, bool) {
	limit := s.cfg.MaxBody
	if r.ContentLength > limit {
		tooLarge(w, limit)
		return buf, false
	}
	if r.Body == nil {
		return buf, true
	}
	body := r.Body
	want := r.ContentLength // read up to this, then stop
	if want < 0 {
		// Of unknown length: MaxBytesReader also has the server close the
		// connection rather than read the rest. One byte of room past the
		// limit lets a body of exactly MaxBody bytes read its EOF.
		body = http.MaxBytesReader(w, body, limit)
		want = limit + 1
	}
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			buf = growBody(buf, want)
		}
		n, err := body.Read(buf[len(buf):int(min(int64(cap(buf)), want))])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				tooLarge(w, limit)
			} else {
				writeJSON(w, http.StatusBadRequest, ofrep.BulkFailure{ErrorCode: flags.ErrParse, ErrorDetails: "cannot read the request body"})
			}
			return buf, false
		}
	}
	if int64(len(buf)) > limit { // cannot happen through MaxBytesReader; kept as the invariant
		tooLarge(w, limit)
		return buf, false
	}
	return buf, true
}

// growBody returns buf with room for more: twice its capacity (at least 512
// bytes), but no more than want. It allocates exactly that, rather than
// leave the size to append's growth, so that a body of a declared length
// fits its buffer.
func growBody(buf []byte, want int64) []byte {
	n := max(2*int64(cap(buf)), 512)
	n = min(n, want)
	grown := make([]byte, len(buf), n)
	copy(grown, buf)
	return grown
}

// Header values the handlers set on every answer, shared rather than
// allocated per request. They are never modified (Header.Set and Add
// replace or extend a value list, they do not write into it).
var (
	headerJSON           = []string{"application/json"}
	headerPrivateNoCache = []string{"private, no-cache"}
)

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
func (s *Server) evaluate(w http.ResponseWriter, r *http.Request, _ Principal) {
	key := r.PathValue("key")
	sc := s.getScratch()
	defer s.putScratch(sc)
	var ok bool
	if sc.body, ok = s.readBody(w, r, sc.body[:0]); !ok {
		return
	}
	cur := s.live.current()
	var d flags.Decision
	if rerr := ofrep.DecodeRequestInto(sc.ctx, sc.body); rerr != nil {
		d = flags.Decision{Key: key, Reason: flags.ReasonError, ErrorCode: rerr.Code, ErrorDetails: rerr.Details, Rule: -1}
	} else {
		d = cur.snap.Evaluate(key, sc.ctx)
		if d.Origin != nil && s.rec != nil {
			s.rec.Expose(&d, sc.ctx)
		}
	}
	b, err := cur.outcomes.record(sc.out[:0], &d)
	sc.out = b
	if err != nil {
		s.log.Error("cannot encode a decision", "flag", key, "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot encode the decision"})
		return
	}
	h := w.Header()
	h["Content-Type"] = headerJSON
	if len(b) >= 1024 {
		// Smaller answers are written in one piece, and net/http adds
		// the Content-Length itself, without allocating.
		h.Set("Content-Length", strconv.Itoa(len(b)))
	}
	w.WriteHeader(ofrep.Status(d.ErrorCode))
	_, _ = w.Write(b)
}

// bulk answers POST /ofrep/v1/evaluate/flags: every flag decided for the
// context, with an ETag over the configuration version and the body, and
// 304 when If-None-Match holds it.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, p Principal) {
	sc := s.getScratch()
	defer s.putScratch(sc)
	var ok bool
	if sc.body, ok = s.readBody(w, r, sc.body[:0]); !ok {
		return
	}
	if rerr := ofrep.DecodeRequestInto(sc.ctx, sc.body); rerr != nil {
		writeJSON(w, http.StatusBadRequest, ofrep.BulkFailure{ErrorCode: rerr.Code, ErrorDetails: rerr.Details})
		return
	}
	cur := s.live.current()
	// A re-fetch prompted by an event stream names the version (and epoch)
	// it heard of. Behind a load balancer this replica may not have loaded
	// it yet: look now, and wait a little, rather than answer with the old
	// one.
	if r.URL.RawQuery != "" {
		if rev, ok := parseFeedTag(r.URL.Query().Get("flagConfigEtag")); ok &&
			(rev.Version > cur.version || (rev.Epoch != "" && rev.Epoch != cur.epoch)) {
			s.live.Trigger()
			s.live.waitFor(r.Context(), rev, time.Second)
			cur = s.live.current()
		}
	}
	keys := cur.snap.Keys()
	streams := []ofrep.EventStream{{Type: "sse", URL: s.streamURL(r, p), InactivityDelaySec: s.cfg.InactivityDelaySec}}
	out, err := ofrep.AppendBulkJSONFunc(sc.out[:0], len(keys), func(dst []byte, i int) ([]byte, error) {
		d := cur.snap.EvaluateAt(i, sc.ctx)
		if d.Origin != nil && s.rec != nil {
			s.rec.Expose(&d, sc.ctx)
		}
		return cur.outcomes.recordAt(dst, i, &d)
	}, cur.version, streams)
	sc.out = out
	if err != nil {
		s.log.Error("cannot encode a bulk evaluation", "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot encode the evaluation"})
		return
	}
	etag := bulkETag(cur.version, cur.epoch, out)
	h := w.Header()
	h.Set("ETag", etag)
	h["Cache-Control"] = headerPrivateNoCache
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = headerJSON
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// bulkETag is a bulk answer's ETag: "<version>-<xxhash64 of the epoch and
// the body>". It only has to tell answers apart, not resist forgery: a
// client can only fool itself. The epoch is in the hash so that a tag from
// one database never matches an answer from another, whatever their
// versions.
func bulkETag(version int64, epoch string, body []byte) string {
	var b [48]byte
	t := append(b[:0], '"')
	t = strconv.AppendInt(t, version, 10)
	t = append(t, '-')
	var sum [8]byte
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(epoch)
	_, _ = d.Write([]byte{0})
	_, _ = d.Write(body)
	binary.BigEndian.PutUint64(sum[:], d.Sum64())
	t = hex.AppendEncode(t, sum[:])
	t = append(t, '"')
	return string(t)
}

// streamURL is the event-stream URL advertised to the caller: with a token
// standing for its key, since browsers cannot send headers on a stream. The
// token is the same for the whole of a TTL window, so that bulk answers (and
// their ETags) stay stable between configuration changes.
func (s *Server) streamURL(r *http.Request, p Principal) string {
	const path = "/ofrep/v1/events"
	base := s.cfg.PublicURL
	if base == "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if s.cfg.InsecureNoAuth {
			return scheme + r.Host + path
		}
		return scheme + r.Host + path + "?token=" + url.QueryEscape(s.tokens.mint(p))
	}
	if s.cfg.InsecureNoAuth {
		return base + path
	}
	return base + path + "?token=" + url.QueryEscape(s.tokens.mint(p))
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
