package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/tracking"
)

// trackAnswer is the body of a 200 from POST /v1/track: how many items of
// each kind were stored (retried items included: the store keeps them
// once).
type trackAnswer struct {
	Events    int `json:"events"`
	Exposures int `json:"exposures"`
	// Inconsistent counts the exposures not stored because the running
	// phase they name gives their unit another arm, or does not hold it.
	Inconsistent int `json:"inconsistentExposures,omitempty"`
}

// trackFailure is the body of a refused POST /v1/track. Item is the path
// of the first wrong item ("events[3].id"), when one is to blame.
type trackFailure struct {
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails"`
	Item         string `json:"item,omitempty"`
}

// Error codes of POST /v1/track.
const (
	trackParseError  = string(flags.ErrParse) // the body is not a JSON object
	trackInvalidItem = "INVALID_ITEM"         // an item is wrong; Item names it
	trackUnavailable = "UNAVAILABLE"          // busy or the store failed: retry after Retry-After
	trackOff         = "TRACKING_OFF"         // the server has no store for tracking
)

// storeTimeout bounds one request's writes to the sink.
const storeTimeout = 10 * time.Second

// track answers POST /v1/track: a batch of tracking events (from any
// language) and exposures (from in-process providers), stored before the
// answer, so that a client that gets no 200 may send the batch again
// (events are stored once per id, exposures once per experiment, phase
// and unit). At most TrackingWriters requests write at once; the others
// wait for a turn, up to TrackingWait, before their body is read, so that
// waiting costs a connection, not a body's memory.
func (s *Server) track(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Tracking == nil {
		s.metrics.ingestRefused.WithLabelValues("off").Inc()
		writeJSON(w, http.StatusNotImplemented, trackFailure{ErrorCode: trackOff, ErrorDetails: "this server stores no tracking events"})
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		tooLarge(w, s.cfg.MaxBody)
		return
	}
	wait := time.NewTimer(s.cfg.TrackingWait)
	select {
	case s.ingest <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		s.metrics.ingestRefused.WithLabelValues("busy").Inc()
		unavailable(w, "every writer is busy; retry")
		return
	case <-r.Context().Done():
		wait.Stop()
		return
	}
	defer func() { <-s.ingest }()

	body := getTrackBody()
	var ok bool
	if *body, ok = s.readBody(w, r, (*body)[:0]); !ok {
		trackBodies.Put(body)
		return
	}
	cur := s.live.current()
	b, err := tracking.DecodeBatch(*body, s.cfg.Now(), cur.units)
	trackBodies.Put(body) // the batch holds copies of what it keeps
	if err != nil {
		s.metrics.ingestRefused.WithLabelValues("invalid").Inc()
		f := trackFailure{ErrorCode: trackInvalidItem, ErrorDetails: err.Error()}
		if be, ok := errors.AsType[*tracking.BatchError](err); ok {
			f.Item = be.Item
			if be.Parse {
				f.ErrorCode = trackParseError
			}
		}
		writeJSON(w, http.StatusBadRequest, f)
		return
	}
	inconsistent := keepConsistent(&b.Exposures, cur.exposures)
	if inconsistent > 0 {
		s.metrics.ingestRefused.WithLabelValues("inconsistent_exposure").Add(float64(inconsistent))
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if len(b.Exposures) > 0 {
		err = s.cfg.Tracking.WriteExposures(ctx, b.Exposures)
	}
	if err == nil && len(b.Events) > 0 {
		err = s.cfg.Tracking.WriteEvents(ctx, b.Events)
	}
	if err != nil {
		s.metrics.ingestRefused.WithLabelValues("store").Inc()
		s.log.Error("cannot store tracked items", "events", len(b.Events), "exposures", len(b.Exposures), "err", err)
		unavailable(w, "the items could not be stored; retry the batch")
		return
	}
	s.metrics.ingested.WithLabelValues("exposure").Add(float64(len(b.Exposures)))
	s.metrics.ingested.WithLabelValues("event").Add(float64(len(b.Events)))
	writeJSON(w, http.StatusOK, trackAnswer{Events: len(b.Events), Exposures: len(b.Exposures), Inconsistent: inconsistent})
}

// keepConsistent removes from xs, in place, the exposures that the
// configuration's running phases contradict (a unit outside the phase's
// share of its layer, or given another arm than the one reported): a
// client that made them up, or one whose bug would skew the report. They
// are counted, not stored; the rest of the batch is.
func keepConsistent(xs *[]tracking.Exposure, check *tracking.ExposureCheck) int {
	kept := (*xs)[:0]
	for i := range *xs {
		if check == nil || check.Consistent(&(*xs)[i]) {
			kept = append(kept, (*xs)[i])
		}
	}
	n := len(*xs) - len(kept)
	*xs = kept
	return n
}

// trackBodies pools the buffers POST /v1/track reads bodies into. Unlike
// the OFREP scratch buffers, which are dropped past 64 KiB, these are kept
// whatever their size (at most MaxBody): a tracking body is typically a
// large batch, and only TrackingWriters requests read one at a time, so
// the pool holds about that many buffers, and a body is read into a
// buffer of its size without growing it step by step.
var trackBodies sync.Pool // *[]byte

// getTrackBody returns a pooled body buffer, or a new one of 64 KiB.
func getTrackBody() *[]byte {
	if b, ok := trackBodies.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func unavailable(w http.ResponseWriter, details string) {
	w.Header().Set("Retry-After", strconv.Itoa(1))
	writeJSON(w, http.StatusServiceUnavailable, trackFailure{ErrorCode: trackUnavailable, ErrorDetails: details})
}
