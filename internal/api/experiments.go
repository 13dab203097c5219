package api

import (
	"context"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

func (h *Handler) experimentList(w http.ResponseWriter, r *http.Request) error {
	es, err := h.a.Experiments(r.Context())
	if err != nil {
		return err
	}
	return reply(w, nonNil(es))
}

func (h *Handler) experimentGet(w http.ResponseWriter, r *http.Request) error {
	e, err := h.a.Experiment(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, e, e.Version)
}

// replyExperiment answers an experiment's move with its ETag after it.
func (h *Handler) replyExperiment(w http.ResponseWriter, r *http.Request, res admin.ExperimentResult) error {
	var v int64
	if res.Experiment != nil {
		v = res.Experiment.Version
	}
	return h.replyObject(w, r, res, v)
}

// simpleExperimentMove runs start, pause or resume: they depend on the
// experiment's status alone, which admin checks in the write.
func (h *Handler) simpleExperimentMove(w http.ResponseWriter, r *http.Request, move func(context.Context, string) (admin.ExperimentResult, error)) error {
	if err := h.decode(r, &struct{}{}); err != nil {
		return err
	}
	res, err := move(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return h.replyExperiment(w, r, res)
}

func (h *Handler) experimentStart(w http.ResponseWriter, r *http.Request) error {
	return h.simpleExperimentMove(w, r, h.a.StartExperiment)
}

func (h *Handler) experimentPause(w http.ResponseWriter, r *http.Request) error {
	return h.simpleExperimentMove(w, r, h.a.PauseExperiment)
}

// experimentResume takes If-Match when given: the experiment must still
// be at that version (a resume may override the sample-ratio check's
// pause, which its caller must have seen).
func (h *Handler) experimentResume(w http.ResponseWriter, r *http.Request) error {
	if err := h.decode(r, &struct{}{}); err != nil {
		return err
	}
	base, err := h.basis(r, false)
	if err != nil {
		return err
	}
	res, err := h.a.ResumeExperimentAt(r.Context(), r.PathValue("key"), base)
	if err != nil {
		return err
	}
	return h.replyExperiment(w, r, res)
}

// experimentStop, experimentTraffic and experimentWeights take If-Match
// when given: the experiment must still be at that version.
func (h *Handler) experimentStop(w http.ResponseWriter, r *http.Request) error {
	var body StopBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	base, err := h.basis(r, false)
	if err != nil {
		return err
	}
	res, err := h.a.StopExperiment(r.Context(), admin.StopRequest{Key: r.PathValue("key"), Ship: body.Ship, Rollout: body.Rollout,
		Confirmed: body.Confirmed, BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyExperiment(w, r, res)
}

func (h *Handler) experimentTraffic(w http.ResponseWriter, r *http.Request) error {
	var body TrafficBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	base, err := h.basis(r, false)
	if err != nil {
		return err
	}
	res, err := h.a.SetExperimentTraffic(r.Context(), admin.TrafficRequest{Key: r.PathValue("key"), Traffic: body.Traffic, BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyExperiment(w, r, res)
}

func (h *Handler) experimentWeights(w http.ResponseWriter, r *http.Request) error {
	var body WeightsBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	if !body.DryRun {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
	}
	base, err := h.basis(r, false)
	if err != nil {
		return err
	}
	res, err := h.a.SetExperimentWeights(r.Context(), admin.WeightsRequest{Key: r.PathValue("key"), Arms: body.Arms, NewPhase: body.NewPhase,
		Traffic: body.Traffic, DryRun: body.DryRun, Confirmed: body.Confirmed, BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyExperiment(w, r, res)
}

// experimentReport reads a phase's report (JSON). Compacting first, the
// default, writes the per-unit totals: that takes Write; compact=false
// reads only.
func (h *Handler) experimentReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := admin.ReportRequest{Key: r.PathValue("key"), Compact: true}
	var err error
	if req.Phase, err = intParam(q.Get("phase"), "phase"); err != nil {
		return err
	}
	if req.Options.Level, err = floatParam(q.Get("level"), "level"); err != nil {
		return err
	}
	if req.Options.NStar, err = floatParam(q.Get("nStar"), "nStar"); err != nil {
		return err
	}
	if req.Series, err = boolParam(q.Get("series"), "series"); err != nil {
		return err
	}
	if c := q.Get("compact"); c != "" {
		if req.Compact, err = boolParam(c, "compact"); err != nil {
			return err
		}
	}
	if req.Compact {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
	}
	rep, err := h.a.Report(r.Context(), req)
	if err != nil {
		return err
	}
	return reply(w, rep)
}

func (h *Handler) experimentExposures(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.a.ExposureCounts(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return reply(w, nonNil(cs))
}

// eventsImport streams a CSV file of tracking events into the store.
func (h *Handler) eventsImport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := csvBody(r); err != nil {
		return err
	}
	req := admin.EventImportRequest{Source: r.Body, File: q.Get("file")}
	opt, err := csvOptions(q)
	if err != nil {
		return err
	}
	req.CSV = admin.EventCSVOptions{Delimiter: opt.Delimiter, MaxLineBytes: opt.MaxLineBytes, MaxRows: opt.MaxRows}
	pa := newProgressAnswer(w, r)
	req.Progress = pa.progress
	res, err := h.a.ImportEvents(r.Context(), req)
	return pa.finish(res, err)
}

func (h *Handler) eventsCompact(w http.ResponseWriter, r *http.Request) error {
	var body CompactBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	opt := admin.CompactOptions{RebuildStats: body.RebuildStats}
	if body.Retention != "" {
		d, err := time.ParseDuration(body.Retention)
		if err != nil || d < 0 {
			return ramp.Errorf(ramp.KindInvalid, "retention %q: want a non-negative Go duration (720h)", body.Retention)
		}
		opt.Retention = d
	}
	res, err := h.a.Compact(r.Context(), opt)
	if err != nil {
		return err
	}
	return reply(w, res)
}

func (h *Handler) eventsStats(w http.ResponseWriter, r *http.Request) error {
	st, err := h.a.TrackingStats(r.Context())
	if err != nil {
		return err
	}
	return reply(w, st)
}
