package api

import (
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

// maxRejected caps the invalid rows an import answers (skipInvalid); the
// count in the result is exact.
const maxRejected = 100_000

func (h *Handler) flagList(w http.ResponseWriter, r *http.Request) error {
	fs, err := h.a.Flags(r.Context())
	if err != nil {
		return err
	}
	out := make([]Flag, len(fs))
	for i := range fs {
		out[i] = FlagOf(fs[i])
	}
	return reply(w, out)
}

func (h *Handler) flagGet(w http.ResponseWriter, r *http.Request) error {
	fi, err := h.a.Flag(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, FlagOf(fi), fi.Flag.Version)
}

func (h *Handler) flagEnable(w http.ResponseWriter, r *http.Request) error {
	return h.setEnabled(w, r, true)
}

func (h *Handler) flagDisable(w http.ResponseWriter, r *http.Request) error {
	return h.setEnabled(w, r, false)
}

// setEnabled flips the kill switch. It depends on no state (enabling an
// enabled flag changes nothing), so it needs no If-Match.
func (h *Handler) setEnabled(w http.ResponseWriter, r *http.Request, on bool) error {
	f, err := h.a.SetEnabled(r.Context(), r.PathValue("key"), on)
	if err != nil {
		return err
	}
	return h.replyObject(w, r, Flag{Flag: f, Version: f.Version}, f.Version)
}

func (h *Handler) flagDelete(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if err := h.a.DeleteFlag(r.Context(), key); err != nil {
		return err
	}
	return reply(w, Deleted{Deleted: key})
}

// flagEvaluate decides a flag for a context as `ramp eval` does; the
// answer is OFREP's body.
func (h *Handler) flagEvaluate(w http.ResponseWriter, r *http.Request) error {
	var body ContextBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	d, err := h.a.Evaluate(r.Context(), r.PathValue("key"), nonNilMap(body.Context))
	if err != nil {
		return err
	}
	return reply(w, ofrep.Body(&d))
}

func (h *Handler) flagExplain(w http.ResponseWriter, r *http.Request) error {
	var body ContextBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	key, ctx := r.PathValue("key"), nonNilMap(body.Context)
	ex, err := h.a.Explain(r.Context(), key, ctx)
	if err != nil {
		return err
	}
	out := Explanation{Explanation: ex}
	if out.Rollout, err = h.a.ExplainRollout(r.Context(), key, ctx, &ex.Decision); err != nil {
		return err
	}
	return reply(w, out)
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (h *Handler) cohortList(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.a.Cohorts(r.Context())
	if err != nil {
		return err
	}
	return reply(w, nonNil(cs))
}

func (h *Handler) cohortGet(w http.ResponseWriter, r *http.Request) error {
	c, err := h.a.Cohort(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, c, c.Version)
}

func (h *Handler) membersAdd(w http.ResponseWriter, r *http.Request) error {
	var body MembersBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	res, err := h.a.AddMembers(r.Context(), admin.AddMembersRequest{Cohort: r.PathValue("key"), Members: body.Members, Create: body.Create})
	if err != nil {
		return err
	}
	return reply(w, res)
}

func (h *Handler) membersRemove(w http.ResponseWriter, r *http.Request) error {
	var body RemoveMembersBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	res, err := h.a.RemoveMembers(r.Context(), r.PathValue("key"), body.IDs)
	if err != nil {
		return err
	}
	return reply(w, res)
}

// membersExport streams a cohort's members as CSV; the count follows in
// the trailer Ramp-Result.
func (h *Handler) membersExport(w http.ResponseWriter, r *http.Request) error {
	raw, err := boolParam(r.URL.Query().Get("raw"), "raw")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Trailer", TrailerResult+", "+TrailerError)
	sw := &startWriter{w: w}
	n, err := h.a.ExportMembers(r.Context(), r.PathValue("key"), sw, admin.ExportOptions{Raw: raw})
	if err != nil {
		if !sw.started {
			return err
		}
		w.Header().Set(TrailerError, encodeTrailer(problemOf(err)))
		return nil
	}
	w.Header().Set(TrailerResult, encodeTrailer(n))
	return nil
}

// csvOptions reads an import's CSV options from its query.
func csvOptions(q url.Values) (csvfile.Options, error) {
	opt := csvfile.Options{IDColumn: q.Get("idColumn"), RegionColumn: q.Get("regionColumn")}
	var err error
	if opt.MaxRows, err = intParam(q.Get("maxRows"), "maxRows"); err != nil {
		return opt, err
	}
	if opt.MaxLineBytes, err = intParam(q.Get("maxLineBytes"), "maxLineBytes"); err != nil {
		return opt, err
	}
	if d := q.Get("delimiter"); d != "" {
		if utf8.RuneCountInString(d) != 1 {
			return opt, ramp.Errorf(ramp.KindInvalid, "query parameter delimiter=%q: want one character", d)
		}
		opt.Delimiter, _ = utf8.DecodeRuneInString(d)
	}
	return opt, nil
}

// csvBody checks an import's Content-Type: CSV, or gzip-compressed CSV.
func csvBody(r *http.Request) error {
	return mediaType(r, "text/csv", "application/gzip", "application/octet-stream")
}

// membersImport streams the request body, a CSV file, straight into
// admin.ImportMembers: nothing is buffered, so a 10M-row file costs what
// it costs locally.
func (h *Handler) membersImport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	mode, err := admin.ParseImportMode(q.Get("mode"))
	if q.Get("mode") == "" {
		mode, err = admin.ImportReplace, nil
	}
	if err != nil {
		return err
	}
	req := admin.ImportRequest{Cohort: r.PathValue("key"), Mode: mode, File: q.Get("file")}
	bools := []struct {
		name string
		to   *bool
	}{{"create", &req.Create}, {"dryRun", &req.DryRun}, {"allowEmpty", &req.AllowEmpty}}
	for _, b := range bools {
		if *b.to, err = boolParam(q.Get(b.name), b.name); err != nil {
			return err
		}
	}
	if !req.DryRun {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
	}
	if req.Samples, err = intParam(q.Get("samples"), "samples"); err != nil {
		return err
	}
	if req.CSV, err = csvOptions(q); err != nil {
		return err
	}
	skip, err := boolParam(q.Get("skipInvalid"), "skipInvalid")
	if err != nil {
		return err
	}
	if err := csvBody(r); err != nil {
		return err
	}
	var ans ImportAnswer
	pa := newProgressAnswer(w, r)
	req.Progress = pa.progress
	req.Header = func(cols []string) error {
		ans.Header = cols
		return nil
	}
	if skip {
		req.CSV.OnInvalid = func(p csvfile.Problem) error {
			if len(ans.Rejected) < maxRejected {
				ans.Rejected = append(ans.Rejected, Rejected{Line: p.Line, Reason: p.Reason, Record: slices.Clone(p.Record)})
			}
			return nil
		}
	}
	if req.File == "" {
		req.File = "-"
	}
	req.Source = r.Body
	ans.Result, err = h.a.ImportMembers(r.Context(), req)
	return pa.finish(ans, err)
}

// membersDiff compares a streamed CSV file with a cohort's list.
func (h *Handler) membersDiff(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opt, err := csvOptions(q)
	if err != nil {
		return err
	}
	samples, err := intParam(q.Get("samples"), "samples")
	if err != nil {
		return err
	}
	if err := csvBody(r); err != nil {
		return err
	}
	file := q.Get("file")
	if file == "" {
		file = "-"
	}
	d, err := h.a.DiffMembers(r.Context(), admin.DiffRequest{Cohort: r.PathValue("key"), Source: r.Body, File: file, CSV: opt, Samples: samples})
	if err != nil {
		return err
	}
	return reply(w, d)
}
