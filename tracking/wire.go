package tracking

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// The tracking endpoint's wire format (POST /v1/track on `ramp serve`,
// docs/http-api.md): one JSON object holding a batch of events, of
// exposures, or of both.
//
//	{"events":[{"id":"5f0c…","event":"dm_reply","value":1,"time":"2026-11-24T10:00:00Z",
//	            "context":{"targetingKey":"ig-12","accountCenterId":"ac-12"}}],
//	 "exposures":[{"experiment":"dm-handoff-vs-inline","phase":2,"unitAttribute":"accountCenterId",
//	               "unit":"ac-12","arm":"inline","flag":"ig-dm-via-whatsapp","time":"2026-11-24T09:59:58Z"}]}
//
// An event mirrors OpenFeature's Track call: its name, the evaluation
// context (flattened, as OFREP sends it) and the details' value. Only the
// context's identifiers are kept (Identifiers).

// Limits of one batch on the wire.
const (
	MaxBatchItems = 10000 // events and exposures together
	MaxIDLen      = 64
	MaxNameLen    = 128 // event names, experiment, flag, arm and attribute names
	MaxUnitLen    = 256
	// MaxAhead is how far past the receiver's clock an item's time may be.
	MaxAhead = time.Hour
)

// BatchError says which item of a batch is wrong and why. Item is a path
// into the body ("events[3].id"); empty for the body as a whole.
type BatchError struct {
	Item    string
	Problem string
	// Parse is true when the body is not a JSON object at all.
	Parse bool
}

func (e *BatchError) Error() string {
	if e.Item == "" {
		return e.Problem
	}
	return e.Item + ": " + e.Problem
}

// Batch is a decoded body.
type Batch struct {
	Events    []Event
	Exposures []Exposure
}

type wireBatch struct {
	Events    []json.RawMessage `json:"events"`
	Exposures []json.RawMessage `json:"exposures"`
}

type wireEvent struct {
	ID      string         `json:"id"`
	Event   string         `json:"event"`
	Value   *float64       `json:"value,omitempty"`
	Time    string         `json:"time,omitempty"`
	Context map[string]any `json:"context"`
}

// wireEventIn is an event as read: its context's attributes are decoded
// only when they are identifiers, so that a context's other attributes
// cost no values.
type wireEventIn struct {
	ID      string                     `json:"id"`
	Event   string                     `json:"event"`
	Value   *float64                   `json:"value,omitempty"`
	Time    string                     `json:"time,omitempty"`
	Context map[string]json.RawMessage `json:"context"`
}

type wireExposure struct {
	Experiment string `json:"experiment"`
	Phase      *int   `json:"phase"`
	UnitAttr   string `json:"unitAttribute"`
	Unit       string `json:"unit"`
	Arm        string `json:"arm"`
	Flag       string `json:"flag,omitempty"`
	Time       string `json:"time,omitempty"`
}

// DecodeBatch reads a tracking body. Events keep the identifiers of their
// context (targetingKey and attrs, see Identifiers); items without a time
// are stamped now; an event without a value counts 1. It checks every
// item and returns a *BatchError naming the first that is wrong: the batch
// is taken whole or not at all.
//
// A body is read in one pass by a decoder of the known schema that copies
// the strings it keeps into a few shared blocks (see decoder). That
// decoder accepts only what it is sure encoding/json would accept with the
// same result; anything else (a malformed body, a wrong item, a key that
// differs from a field's name only in case, an escape it does not
// handle) is read again by decodeBatchStd, over encoding/json, which
// gives the documented answer. FuzzDecodeBatchOracle holds the two to
// the same results.
func DecodeBatch(body []byte, now time.Time, attrs []string) (Batch, error) {
	var d decoder
	if b, ok := d.batch(body, now, attrs); ok {
		return b, nil
	}
	return decodeBatchStd(body, now, attrs)
}

// decodeBatchStd is DecodeBatch over encoding/json: the reference the
// fast decoder is held to, and what explains a refusal.
func decodeBatchStd(body []byte, now time.Time, attrs []string) (Batch, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Batch{}, &BatchError{Problem: "the body must be one JSON object: {\"events\":[…],\"exposures\":[…]}", Parse: true}
	}
	var w wireBatch
	if err := json.Unmarshal(body, &w); err != nil {
		return Batch{}, &BatchError{Problem: "the body is not valid JSON: " + jsonProblem(err), Parse: true}
	}
	if n := len(w.Events) + len(w.Exposures); n > MaxBatchItems {
		return Batch{}, &BatchError{Problem: "a batch holds at most " + strconv.Itoa(MaxBatchItems) + " items; this one has " + strconv.Itoa(n)}
	}
	b := Batch{Events: make([]Event, 0, len(w.Events)), Exposures: make([]Exposure, 0, len(w.Exposures))}
	for i, raw := range w.Events {
		e, err := decodeEvent(raw, now, attrs, "events["+strconv.Itoa(i)+"]")
		if err != nil {
			return Batch{}, err
		}
		b.Events = append(b.Events, e)
	}
	for i, raw := range w.Exposures {
		e, err := decodeExposure(raw, now, "exposures["+strconv.Itoa(i)+"]")
		if err != nil {
			return Batch{}, err
		}
		b.Exposures = append(b.Exposures, e)
	}
	return b, nil
}

func decodeEvent(raw json.RawMessage, now time.Time, attrs []string, at string) (Event, error) {
	var w wireEventIn
	if err := decodeItem(raw, &w, at, "an event"); err != nil {
		return Event{}, err
	}
	if err := checkID(w.ID, at+".id"); err != nil {
		return Event{}, err
	}
	if err := checkName(w.Event, at+".event", "the event's name", MaxNameLen); err != nil {
		return Event{}, err
	}
	t, err := decodeTime(w.Time, now, at+".time")
	if err != nil {
		return Event{}, err
	}
	ids := make(map[string]any, 1+len(attrs))
	for _, a := range append([]string{TargetingKey}, attrs...) {
		raw, ok := w.Context[a]
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return Event{}, &BatchError{Item: at + ".context." + a, Problem: jsonProblem(err)}
		}
		ids[a] = v
	}
	units, bad := Identifiers(ids, attrs)
	if bad != "" {
		return Event{}, &BatchError{Item: at + ".context." + bad, Problem: "an identifier must be a string or an integer"}
	}
	if len(units) == 0 {
		return Event{}, &BatchError{Item: at + ".context", Problem: "identifies no unit: it needs a targetingKey (or an attribute experiments bucket by), or the event could join no exposure"}
	}
	for a, u := range units {
		if len(u) > MaxUnitLen || !utf8.ValidString(u) {
			return Event{}, &BatchError{Item: at + ".context." + a, Problem: "an identifier is valid UTF-8 of at most " + strconv.Itoa(MaxUnitLen) + " bytes"}
		}
	}
	v := 1.0
	if w.Value != nil {
		v = *w.Value
	}
	return Event{ID: w.ID, Name: w.Event, Value: v, Time: t, Units: units}, nil
}

func decodeExposure(raw json.RawMessage, now time.Time, at string) (Exposure, error) {
	var w wireExposure
	if err := decodeItem(raw, &w, at, "an exposure"); err != nil {
		return Exposure{}, err
	}
	for _, f := range []struct{ v, field, what string }{
		{w.Experiment, "experiment", "the experiment's key"},
		{w.UnitAttr, "unitAttribute", "the attribute naming the unit"},
		{w.Arm, "arm", "the arm"},
	} {
		if err := checkName(f.v, at+"."+f.field, f.what, MaxNameLen); err != nil {
			return Exposure{}, err
		}
	}
	if w.Flag != "" {
		if err := checkName(w.Flag, at+".flag", "the flag's key", MaxNameLen); err != nil {
			return Exposure{}, err
		}
	}
	if err := checkName(w.Unit, at+".unit", "the unit", MaxUnitLen); err != nil {
		return Exposure{}, err
	}
	if w.Phase == nil || *w.Phase < 1 {
		return Exposure{}, &BatchError{Item: at + ".phase", Problem: "want the experiment phase, an integer from 1 (a stopped experiment's phase 0 exposes nobody)"}
	}
	t, err := decodeTime(w.Time, now, at+".time")
	if err != nil {
		return Exposure{}, err
	}
	return Exposure{Experiment: w.Experiment, Phase: *w.Phase, UnitAttr: w.UnitAttr, Unit: w.Unit, Arm: w.Arm, Flag: w.Flag, Time: t}, nil
}

// decodeItem decodes one item, naming the field of a type error.
func decodeItem(raw json.RawMessage, v any, at, what string) error {
	if len(raw) == 0 || raw[0] != '{' {
		return &BatchError{Item: at, Problem: "want " + what + " as a JSON object"}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return &BatchError{Item: at + "." + te.Field, Problem: "want a " + wantType(te.Type.Kind().String()) + ", not a JSON " + te.Value}
		}
		return &BatchError{Item: at, Problem: jsonProblem(err)}
	}
	return nil
}

func wantType(kind string) string {
	switch kind {
	case "float64", "int":
		return "number"
	case "map":
		return "JSON object"
	case "ptr":
		return "number"
	}
	return kind
}

func checkID(id, at string) error {
	if id == "" {
		return &BatchError{Item: at, Problem: "missing: each event needs an id (e.g. 32 random hex digits) so that a retried batch is stored once"}
	}
	if len(id) > MaxIDLen {
		return &BatchError{Item: at, Problem: "longer than " + strconv.Itoa(MaxIDLen) + " bytes"}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return &BatchError{Item: at, Problem: "an id is made of letters, digits, '-', '_', '.' and ':'"}
		}
	}
	return nil
}

func checkName(s, at, what string, limit int) error {
	switch {
	case s == "":
		return &BatchError{Item: at, Problem: what + " is missing"}
	case len(s) > limit:
		return &BatchError{Item: at, Problem: what + " is longer than " + strconv.Itoa(limit) + " bytes"}
	case !utf8.ValidString(s):
		return &BatchError{Item: at, Problem: what + " is not valid UTF-8"}
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return &BatchError{Item: at, Problem: what + " holds a control character"}
		}
	}
	return nil
}

func decodeTime(s string, now time.Time, at string) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &BatchError{Item: at, Problem: "want an RFC 3339 time such as 2026-11-24T10:00:00Z"}
	}
	if t.After(now.Add(MaxAhead)) {
		return time.Time{}, &BatchError{Item: at, Problem: "more than " + MaxAhead.String() + " ahead of the server's clock"}
	}
	return t, nil
}

func jsonProblem(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return se.Error() + " at byte " + strconv.FormatInt(se.Offset, 10)
	}
	return err.Error()
}

// AppendEvents appends the wire body of a batch of events: each with its
// Units as its context.
func AppendEvents(dst []byte, evs []Event) ([]byte, error) {
	w := make([]wireEvent, len(evs))
	for i, e := range evs {
		v := e.Value
		ctx := make(map[string]any, len(e.Units))
		for k, u := range e.Units {
			ctx[k] = u
		}
		w[i] = wireEvent{ID: e.ID, Event: e.Name, Value: &v, Time: e.Time.UTC().Format(time.RFC3339Nano), Context: ctx}
	}
	return appendJSON(dst, struct {
		Events []wireEvent `json:"events"`
	}{w})
}

// AppendExposures appends the wire body of a batch of exposures.
func AppendExposures(dst []byte, exps []Exposure) ([]byte, error) {
	w := make([]wireExposure, len(exps))
	for i, e := range exps {
		p := e.Phase
		w[i] = wireExposure{Experiment: e.Experiment, Phase: &p, UnitAttr: e.UnitAttr, Unit: e.Unit, Arm: e.Arm, Flag: e.Flag,
			Time: e.Time.UTC().Format(time.RFC3339Nano)}
	}
	return appendJSON(dst, struct {
		Exposures []wireExposure `json:"exposures"`
	}{w})
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
