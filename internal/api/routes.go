package api

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/config"
)

// OpenAPI is the API's OpenAPI 3 document, served at /api/v1/openapi.yaml;
// a test checks it against Routes.
//
//go:embed openapi.yaml
var OpenAPI []byte

// routes is every endpoint of the API. docs/http-api.md describes them,
// openapi.yaml specifies them. Routes marked stream may outlast the
// server's read and write deadlines (imports and exports of millions of
// rows, a 100 MB snapshot, a report over millions of units): they are
// lifted once the request is authenticated, so only holders of a valid
// credential may hold a connection that long.
var routes = []route{
	{pattern: "GET " + Prefix + "/openapi.yaml", perm: auth.Read, serve: (*Handler).openapi},
	{pattern: "GET " + Prefix + "/whoami", perm: auth.Read, serve: (*Handler).whoami},
	{pattern: "GET " + Prefix + "/db", perm: auth.Read, serve: (*Handler).dbStatus},
	{pattern: "POST " + Prefix + "/db/renew-epoch", perm: auth.Administer, serve: (*Handler).renewEpoch},
	{pattern: "GET " + Prefix + "/snapshot", perm: auth.Read, serve: (*Handler).snapshot, stream: true},
	{pattern: "POST " + Prefix + "/snapshot", perm: auth.Read, serve: (*Handler).snapshotFor},
	{pattern: "POST " + Prefix + "/apply", perm: auth.Read, serve: (*Handler).apply, stream: true},
	{pattern: "GET " + Prefix + "/export", perm: auth.Read, serve: (*Handler).export, stream: true},
	{pattern: "GET " + Prefix + "/audit", perm: auth.Read, serve: (*Handler).audit},

	{pattern: "GET " + Prefix + "/flags", perm: auth.Read, serve: (*Handler).flagList},
	{pattern: "GET " + Prefix + "/flags/{key}", perm: auth.Read, serve: (*Handler).flagGet},
	{pattern: "POST " + Prefix + "/flags/{key}/enable", perm: auth.Write, serve: (*Handler).flagEnable},
	{pattern: "POST " + Prefix + "/flags/{key}/disable", perm: auth.Write, serve: (*Handler).flagDisable},
	{pattern: "DELETE " + Prefix + "/flags/{key}", perm: auth.Write, serve: (*Handler).flagDelete},
	{pattern: "POST " + Prefix + "/flags/{key}/evaluate", perm: auth.Read, serve: (*Handler).flagEvaluate},
	{pattern: "POST " + Prefix + "/flags/{key}/explain", perm: auth.Read, serve: (*Handler).flagExplain},

	{pattern: "GET " + Prefix + "/cohorts", perm: auth.Read, serve: (*Handler).cohortList},
	{pattern: "GET " + Prefix + "/cohorts/{key}", perm: auth.Read, serve: (*Handler).cohortGet},
	{pattern: "POST " + Prefix + "/cohorts/{key}/members", perm: auth.Write, serve: (*Handler).membersAdd},
	{pattern: "POST " + Prefix + "/cohorts/{key}/members/remove", perm: auth.Write, serve: (*Handler).membersRemove},
	{pattern: "GET " + Prefix + "/cohorts/{key}/members", perm: auth.Read, serve: (*Handler).membersExport, stream: true},
	{pattern: "POST " + Prefix + "/cohorts/{key}/import", perm: auth.Read, serve: (*Handler).membersImport, stream: true},
	{pattern: "POST " + Prefix + "/cohorts/{key}/diff", perm: auth.Read, serve: (*Handler).membersDiff, stream: true},

	{pattern: "GET " + Prefix + "/rollouts", perm: auth.Read, serve: (*Handler).rolloutList},
	{pattern: "POST " + Prefix + "/rollouts/tick", perm: auth.Write, serve: (*Handler).rolloutTick},
	{pattern: "GET " + Prefix + "/rollouts/{flag}", perm: auth.Read, serve: (*Handler).rolloutGet},
	{pattern: "DELETE " + Prefix + "/rollouts/{flag}", perm: auth.Write, serve: (*Handler).rolloutDelete},
	{pattern: "GET " + Prefix + "/rollouts/{flag}/status", perm: auth.Read, serve: (*Handler).rolloutStatus},
	{pattern: "GET " + Prefix + "/rollouts/{flag}/history", perm: auth.Read, serve: (*Handler).rolloutHistory},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/explain", perm: auth.Read, serve: (*Handler).rolloutExplain},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/estimate", perm: auth.Read, serve: (*Handler).rolloutEstimate},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/advance", perm: auth.Read, serve: (*Handler).rolloutAdvance},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/approve", perm: auth.ApproveStage, serve: (*Handler).rolloutApprove},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/pause", perm: auth.Write, serve: (*Handler).rolloutPause},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/resume", perm: auth.Write, serve: (*Handler).rolloutResume},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/rollback", perm: auth.Read, serve: (*Handler).rolloutRollback},
	{pattern: "POST " + Prefix + "/rollouts/{flag}/stages", perm: auth.Write, serve: (*Handler).stageAdd},
	{pattern: "PATCH " + Prefix + "/rollouts/{flag}/stages/{stage}", perm: auth.Write, serve: (*Handler).stageEdit},
	{pattern: "DELETE " + Prefix + "/rollouts/{flag}/stages/{stage}", perm: auth.Write, serve: (*Handler).stageRemove},

	{pattern: "GET " + Prefix + "/experiments", perm: auth.Read, serve: (*Handler).experimentList},
	{pattern: "GET " + Prefix + "/experiments/{key}", perm: auth.Read, serve: (*Handler).experimentGet},
	{pattern: "POST " + Prefix + "/experiments/{key}/start", perm: auth.Write, serve: (*Handler).experimentStart},
	{pattern: "POST " + Prefix + "/experiments/{key}/pause", perm: auth.Write, serve: (*Handler).experimentPause},
	{pattern: "POST " + Prefix + "/experiments/{key}/resume", perm: auth.Write, serve: (*Handler).experimentResume},
	{pattern: "POST " + Prefix + "/experiments/{key}/stop", perm: auth.Write, serve: (*Handler).experimentStop},
	{pattern: "POST " + Prefix + "/experiments/{key}/traffic", perm: auth.Write, serve: (*Handler).experimentTraffic},
	{pattern: "POST " + Prefix + "/experiments/{key}/weights", perm: auth.Read, serve: (*Handler).experimentWeights},
	{pattern: "GET " + Prefix + "/experiments/{key}/report", perm: auth.Read, serve: (*Handler).experimentReport, stream: true},
	{pattern: "GET " + Prefix + "/experiments/{key}/exposures", perm: auth.Read, serve: (*Handler).experimentExposures},

	{pattern: "GET " + Prefix + "/metrics", perm: auth.Read, serve: (*Handler).metricList},
	{pattern: "GET " + Prefix + "/metrics/{key}", perm: auth.Read, serve: (*Handler).metricGet},

	{pattern: "POST " + Prefix + "/events/import", perm: auth.Write, serve: (*Handler).eventsImport, stream: true},
	{pattern: "POST " + Prefix + "/events/compact", perm: auth.Write, serve: (*Handler).eventsCompact, stream: true},
	{pattern: "GET " + Prefix + "/events/stats", perm: auth.Read, serve: (*Handler).eventsStats},

	{pattern: "GET " + Prefix + "/keys", perm: auth.Administer, serve: (*Handler).keyList},
	{pattern: "POST " + Prefix + "/keys", perm: auth.Administer, serve: (*Handler).keyCreate},
	{pattern: "POST " + Prefix + "/keys/{name}/revoke", perm: auth.Administer, serve: (*Handler).keyRevoke},
	{pattern: "GET " + Prefix + "/tokens", perm: auth.Read, serve: (*Handler).tokenList},
	{pattern: "POST " + Prefix + "/tokens", perm: auth.Administer, serve: (*Handler).tokenCreate},
	{pattern: "POST " + Prefix + "/tokens/{id}/revoke", perm: auth.Read, serve: (*Handler).tokenRevoke},
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(OpenAPI)
	return err
}

func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.FromContext(r.Context())
	return reply(w, p)
}

func (h *Handler) dbStatus(w http.ResponseWriter, r *http.Request) error {
	rev, err := h.a.Revision(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("ETag", ETag(max(rev.Version, 1), rev.Epoch))
	return reply(w, rev)
}

func (h *Handler) renewEpoch(w http.ResponseWriter, r *http.Request) error {
	rev, err := h.a.RenewEpoch(r.Context())
	if err != nil {
		return err
	}
	return reply(w, rev)
}

// snapshot answers the whole configuration, composed, in the snapshot
// feed's wire format: what the CLI's eval and simulate decide from.
func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) error {
	cfg, err := h.a.Configuration(r.Context())
	if err != nil {
		return err
	}
	return writeSnapshot(w, &cfg)
}

// snapshotFor answers the configuration for deciding one context: cohort
// lists hold the context's targeting key alone (if listed), so that it
// costs nothing per listed member. Its decisions for that context are the
// whole snapshot's; for any other context they are not.
func (h *Handler) snapshotFor(w http.ResponseWriter, r *http.Request) error {
	var body ContextBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	cfg, err := h.a.ConfigurationFor(r.Context(), nonNilMap(body.Context))
	if err != nil {
		return err
	}
	return writeSnapshot(w, &cfg)
}

// writeSnapshot answers a configuration, composed, in the wire format.
func writeSnapshot(w http.ResponseWriter, cfg *ramp.Config) error {
	st := ramp.Compose(cfg)
	doc, err := wire.MarshalEpoch(&st, cfg.Revision.Version, cfg.Revision.Epoch)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", ETag(max(cfg.Revision.Version, 1), cfg.Revision.Epoch))
	_, err = w.Write(doc)
	return err
}

// apply applies a configuration document, sent as the file's bytes
// (YAML or JSON): the server parses it as `ramp apply` does, so problems
// name the file (?file=) and its lines.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	dry, err := boolParam(q.Get("dryRun"), "dryRun")
	if err != nil {
		return err
	}
	prune, err := boolParam(q.Get("prune"), "prune")
	if err != nil {
		return err
	}
	if !dry {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
	}
	if err := mediaType(r, "application/yaml", "application/json", "application/x-yaml", "text/yaml"); err != nil {
		return err
	}
	data, err := readAll(http.MaxBytesReader(nil, r.Body, config.MaxSize))
	if err != nil {
		return err
	}
	name := q.Get("file")
	if name == "" {
		name = "<request>"
	}
	doc, err := config.ParsePartial(name, data)
	if doc == nil {
		return err
	}
	res, err := h.a.Apply(r.Context(), admin.ApplyRequest{Doc: doc, DryRun: dry, Prune: prune})
	if err != nil {
		return err
	}
	return reply(w, res)
}

// export streams the configuration as a document; the counts follow as
// the trailer Ramp-Export (JSON).
func (h *Handler) export(w http.ResponseWriter, r *http.Request) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "yaml"
	}
	if format != "yaml" && format != "json" {
		return ramp.Errorf(ramp.KindInvalid, "format %q: want yaml or json", format)
	}
	w.Header().Set("Content-Type", "application/"+format)
	w.Header().Set("Trailer", TrailerResult)
	// A failure before the first byte is still a problem; after it the
	// trailer says so.
	sw := &startWriter{w: w}
	res, err := h.a.Export(r.Context(), sw, format)
	if err != nil {
		if !sw.started {
			return err
		}
		w.Header().Set(TrailerError, encodeTrailer(problemOf(err)))
		return nil
	}
	w.Header().Set(TrailerResult, encodeTrailer(res))
	return nil
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := admin.AuditFilter{Kind: q.Get("kind"), Kinds: q["kinds"], Target: q.Get("target"), Actor: q.Get("actor"), Action: q.Get("action")}
	var err error
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	if f.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	log, err := h.a.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	return reply(w, log)
}

func (h *Handler) metricList(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.a.Metrics(r.Context())
	if err != nil {
		return err
	}
	return reply(w, nonNil(ms))
}

func (h *Handler) metricGet(w http.ResponseWriter, r *http.Request) error {
	m, err := h.a.Metric(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, m, m.Version)
}

func (h *Handler) keyList(w http.ResponseWriter, r *http.Request) error {
	all, err := boolParam(r.URL.Query().Get("all"), "all")
	if err != nil {
		return err
	}
	ks, err := h.a.Keys(r.Context(), all)
	if err != nil {
		return err
	}
	return reply(w, nonNil(ks))
}

func (h *Handler) keyCreate(w http.ResponseWriter, r *http.Request) error {
	var req admin.CreateKeyRequest
	if err := h.decode(r, &req); err != nil {
		return err
	}
	k, err := h.a.CreateKey(r.Context(), req)
	if err != nil {
		return err
	}
	return replyStatus(w, http.StatusCreated, k)
}

func (h *Handler) keyRevoke(w http.ResponseWriter, r *http.Request) error {
	k, err := h.a.RevokeKey(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return reply(w, k)
}

// tokenList lists personal tokens: admin narrows them to the principal's
// own unless it is an admin.
func (h *Handler) tokenList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	all, err := boolParam(q.Get("all"), "all")
	if err != nil {
		return err
	}
	ts, err := h.a.Tokens(r.Context(), admin.TokenFilter{Person: q.Get("person"), All: all})
	if err != nil {
		return err
	}
	return reply(w, nonNil(ts))
}

func (h *Handler) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	var req admin.CreateTokenRequest
	if err := h.decode(r, &req); err != nil {
		return err
	}
	tok, err := h.a.CreateToken(r.Context(), req)
	if err != nil {
		return err
	}
	return replyStatus(w, http.StatusCreated, tok)
}

// tokenRevoke revokes a token: an admin any, a person their own (admin
// checks which).
func (h *Handler) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := h.decode(r, &struct{}{}); err != nil {
		return err
	}
	tok, err := h.a.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return reply(w, tok)
}

// boolParam reads a boolean query parameter ("" is false).
func boolParam(s, name string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, ramp.Errorf(ramp.KindInvalid, "query parameter %s=%q: want true or false", name, s)
	}
	return b, nil
}

// intParam reads a non-negative integer query parameter ("" is 0).
func intParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, ramp.Errorf(ramp.KindInvalid, "query parameter %s=%q: want a non-negative integer", name, s)
	}
	return n, nil
}

// floatParam reads a number query parameter ("" is 0).
func floatParam(s, name string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, ramp.Errorf(ramp.KindInvalid, "query parameter %s=%q: want a number", name, s)
	}
	return n, nil
}

// timeParam reads an RFC 3339 time query parameter ("" is zero).
func timeParam(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, ramp.Errorf(ramp.KindInvalid, "query parameter %s=%q: want an RFC 3339 time", name, s)
	}
	return t, nil
}

// nonNil makes a nil list [] in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return nil, bodyError(err)
	}
	return b.Bytes(), nil
}
