package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
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
