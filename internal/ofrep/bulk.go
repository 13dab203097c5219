package ofrep

import (
	"strconv"

	"github.com/ramp-flags/ramp/flags"
)

// BulkFailure is OFREP's bulk evaluation failure body (a 400): the request
// as a whole could not be evaluated.
type BulkFailure struct {
	ErrorCode    flags.ErrorCode `json:"errorCode"`
	ErrorDetails string          `json:"errorDetails,omitempty"`
}

// EventStream is one entry of a bulk answer's "eventStreams" (OFREP 0.3.0,
// ADR-0008): where a provider connects to hear that the configuration
// changed.
type EventStream struct {
	// Type is the push mechanism; "sse" is the only one defined.
	Type string `json:"type"`
	// URL is the absolute URL of the stream. It may carry a credential and
	// must not be logged.
	URL string `json:"url"`
	// InactivityDelaySec is how long a backgrounded client keeps the
	// connection before closing it (and re-fetching when it resumes).
	InactivityDelaySec int `json:"inactivityDelaySec,omitempty"`
}

// EventRefetch is the type of the event-stream message telling providers to
// fetch their bulk evaluation again.
const EventRefetch = "refetchEvaluation"

// Event is the JSON carried in the data field of an event-stream message.
type Event struct {
	Type string `json:"type"`
	// ETag is the configuration's validator; providers send it back as the
	// flagConfigEtag query parameter of the re-fetch.
	ETag string `json:"etag,omitempty"`
	// LastModified is when the configuration was loaded, in Unix seconds;
	// providers send it back as flagConfigLastModified.
	LastModified int64 `json:"lastModified,omitempty"`
}

// AppendBulkJSON appends a bulk evaluation success body: every decision as
// the single-flag endpoint would write it (a success or a failure item),
// the configuration version as metadata, and the event streams when there
// are any.
func AppendBulkJSON(dst []byte, ds []flags.Decision, configVersion int64, streams []EventStream) ([]byte, error) {
	return AppendBulkJSONFunc(dst, len(ds), func(dst []byte, i int) ([]byte, error) { return AppendJSON(dst, &ds[i]) },
		configVersion, streams)
}

// AppendBulkJSONFunc is AppendBulkJSON for n decisions made as they are
// written: appendItem(dst, i) appends the i-th as AppendJSON would. The
// server answers this way, without holding every decision at once and with
// encodings it has made before.
func AppendBulkJSONFunc(dst []byte, n int, appendItem func(dst []byte, i int) ([]byte, error), configVersion int64, streams []EventStream) ([]byte, error) {
	dst = append(dst, `{"flags":[`...)
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendItem(dst, i); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `],"metadata":{"configVersion":`...)
	dst = strconv.AppendInt(dst, configVersion, 10)
	dst = append(dst, '}')
	if len(streams) > 0 {
		dst = append(dst, `,"eventStreams":[`...)
		for i, es := range streams {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"type":`...)
			dst = appendString(dst, es.Type)
			dst = append(dst, `,"url":`...)
			dst = appendString(dst, es.URL)
			if es.InactivityDelaySec != 0 {
				dst = append(dst, `,"inactivityDelaySec":`...)
				dst = strconv.AppendInt(dst, int64(es.InactivityDelaySec), 10)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}
