package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TrackPath is the path of the tracking endpoint of `ramp serve`.
const TrackPath = "/v1/track"

// HTTPSink is a Sink that posts batches to the tracking endpoint of
// `ramp serve` (POST /v1/track) with an SDK key. Writes are idempotent as
// the Sink contract asks: the server stores an event id once and an
// exposure once per (experiment, phase, unit), so a batch whose answer
// was lost may be posted again.
type HTTPSink struct {
	url    string
	key    string
	client *http.Client
}

// NewHTTPSink returns a sink posting to the server at baseURL
// ("https://ramp.internal:8080") with sdkKey. client nil means
// http.DefaultClient; each request carries its own deadline from the
// context it is given.
func NewHTTPSink(baseURL, sdkKey string, client *http.Client) (*HTTPSink, error) {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tracking: base URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("tracking: base URL %q: want http(s)://host[:port][/path]", baseURL)
	case sdkKey == "":
		return nil, errors.New("tracking: empty SDK key")
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPSink{url: strings.TrimRight(baseURL, "/") + TrackPath, key: sdkKey, client: client}, nil
}

// MaxBody is the largest request body HTTPSink posts: the tracking
// endpoint's limit (`ramp serve` answers 413 to a larger one).
const MaxBody = 1 << 20

// WriteExposures posts a batch of exposures, in several requests when one
// would exceed the endpoint's limits (MaxBody, MaxBatchItems).
func (s *HTTPSink) WriteExposures(ctx context.Context, batch []Exposure) error {
	return postWithin(ctx, s, batch, AppendExposures, "exposures")
}

// WriteEvents posts a batch of events, in several requests when one would
// exceed the endpoint's limits (MaxBody, MaxBatchItems).
func (s *HTTPSink) WriteEvents(ctx context.Context, batch []Event) error {
	return postWithin(ctx, s, batch, AppendEvents, "events")
}

// postWithin posts batch encoded by enc, halving it until each part fits
// the endpoint's limits, so that a batch of large items is stored rather
// than refused whole. The parts are posted in order and the first failure
// is returned: the caller retries the whole batch, whose parts already
// stored the server stores once.
func postWithin[T any](ctx context.Context, s *HTTPSink, batch []T, enc func([]byte, []T) ([]byte, error), what string) error {
	body, err := enc(nil, batch)
	if err != nil {
		return fmt.Errorf("encode %s: %w: %w", what, ErrRejected, err)
	}
	if (len(body) > MaxBody || len(batch) > MaxBatchItems) && len(batch) > 1 {
		half := len(batch) / 2
		if err := postWithin(ctx, s, batch[:half], enc, what); err != nil {
			return err
		}
		return postWithin(ctx, s, batch[half:], enc, what)
	}
	return s.post(ctx, body)
}

func (s *HTTPSink) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", s.url, err) // the URL, never the key
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &HTTPError{Status: resp.StatusCode}
	var answer struct {
		ErrorDetails string `json:"errorDetails"`
	}
	if json.Unmarshal(msg, &answer) == nil {
		e.Details = answer.ErrorDetails
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.After = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.After = time.Until(t)
		}
	}
	return e
}

// HTTPError is the tracking endpoint's refusal of a batch. Errors of
// statuses that retrying cannot change (400, 401, 403, 404, 413) match
// ErrRejected; the others (429, 5xx) are retried, no sooner than After.
type HTTPError struct {
	Status  int
	Details string        // the answer's errorDetails, if any
	After   time.Duration // Retry-After, if given
}

func (e *HTTPError) Error() string {
	s := "tracking endpoint answered " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Details != "" {
		s += ": " + e.Details
	}
	return s
}

// Is makes permanent refusals match ErrRejected.
func (e *HTTPError) Is(target error) bool {
	if target != ErrRejected {
		return false
	}
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// RetryAfter is the server's Retry-After.
func (e *HTTPError) RetryAfter() time.Duration { return e.After }
