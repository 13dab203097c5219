package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ramp-flags/ramp/internal/admin"
)

// Trailers of streamed answers (exports): the result once the stream is
// written, or the problem that cut it short. Their values are JSON,
// base64url-encoded without padding.
const (
	TrailerResult = "Ramp-Result"
	TrailerError  = "Ramp-Error"
)

func encodeTrailer(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeTrailer reads a trailer's value into v.
func DecodeTrailer(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// startWriter notes whether anything was written, so that a failure
// before the first byte is answered as a problem.
type startWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		s.started = true
	}
	return s.w.Write(p)
}

// NDJSON is the media type of an import's answer when the client asks
// for progress (Accept: application/x-ndjson): Line values, one a line,
// progress first, then the result or the problem that stopped it.
const NDJSON = "application/x-ndjson"

// Line is one line of an NDJSON answer.
type Line struct {
	Progress *admin.ImportProgress `json:"progress,omitempty"`
	Result   json.RawMessage       `json:"result,omitempty"`
	Problem  *Problem              `json:"problem,omitempty"`
}

// progressAnswer answers an import: as NDJSON with progress lines when the
// client accepts it, else as one JSON value once it is done. A failure
// before the first progress line is an ordinary problem.
type progressAnswer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	enabled bool
	started bool
	err     error
}

func newProgressAnswer(w http.ResponseWriter, r *http.Request) *progressAnswer {
	pa := &progressAnswer{w: w, rc: http.NewResponseController(w)}
	if strings.Contains(r.Header.Get("Accept"), NDJSON) {
		// Progress lines go out while the body still comes in.
		pa.enabled = pa.rc.EnableFullDuplex() == nil
	}
	return pa
}

// progress sends a progress line (when the client asked for them).
func (pa *progressAnswer) progress(p admin.ImportProgress) {
	if !pa.enabled || pa.err != nil {
		return
	}
	if !pa.started {
		pa.started = true
		pa.w.Header().Set("Content-Type", NDJSON)
		pa.w.WriteHeader(http.StatusOK)
	}
	pa.err = pa.line(Line{Progress: &p})
}

func (pa *progressAnswer) line(l Line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := pa.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return pa.rc.Flush()
}

// finish answers the result, or err.
func (pa *progressAnswer) finish(v any, err error) error {
	if !pa.started {
		if err != nil {
			return err
		}
		return reply(pa.w, v)
	}
	if err != nil {
		p := problemOf(err)
		return pa.line(Line{Problem: &p})
	}
	b, merr := json.Marshal(v)
	if merr != nil {
		return merr
	}
	return pa.line(Line{Result: b})
}
