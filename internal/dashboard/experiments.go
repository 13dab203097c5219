package dashboard

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/chart"
	"github.com/ramp-flags/ramp/internal/reportchart"
)

// experimentsPage lists the experiments with their status.
func (d *Dashboard) experimentsPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	xs, err := d.opt.Admin.Experiments(r.Context())
	if err != nil {
		return err
	}
	return d.render(w, http.StatusOK, "experiments", view{Title: "Experiments", Nav: "experiments", Who: &p, Data: xs})
}

// experimentView is one experiment's page.
type experimentView struct {
	admin.ExperimentInfo
	// Report is the current phase's report (nil before the first phase);
	// Chart says whether it has anything to draw.
	Report *report.Report
	Chart  bool
	// NoSeries says the chart leaves out the lift over time: the phase
	// has more units than Options.SeriesUnitLimit.
	NoSeries bool
	// SeriesLimit is that limit, for the page to say.
	SeriesLimit int64
}

// DefaultSeriesUnitLimit is the most exposed units of a phase for which the
// dashboard's chart draws the lift over time. Each point of it reads every
// unit's totals as of that day's end (the grouped query: about 13 s per
// point and metric at 10 million units, BENCHMARKS.md), where the rest of
// the report reads the few rows compaction maintains; above the limit the
// page says how to draw it (ramp experiments report --plot) rather than
// make every visit pay for it.
const DefaultSeriesUnitLimit = 100_000

// seriesLimit is Options.SeriesUnitLimit or its default.
func (d *Dashboard) seriesLimit() int64 {
	if d.opt.SeriesUnitLimit > 0 {
		return d.opt.SeriesUnitLimit
	}
	return DefaultSeriesUnitLimit
}

// experimentPage shows an experiment: its status and phases, then the
// current phase's report with the sample-ratio check first and the charts.
func (d *Dashboard) experimentPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx := r.Context()
	x, err := d.opt.Admin.Experiment(ctx, r.PathValue("key"))
	if err != nil {
		return err
	}
	v := experimentView{ExperimentInfo: x}
	if x.Phase > 0 {
		rep, err := d.opt.Admin.Report(ctx, admin.ReportRequest{Key: x.Key})
		if err != nil {
			return err
		}
		v.Report = &rep
		c := reportchart.Of(&rep)
		v.Chart = len(c.Forest.Rows) > 0 || len(c.Series) > 0
		v.SeriesLimit = d.seriesLimit()
		v.NoSeries = rep.SampleRatio.Units > v.SeriesLimit
	}
	return d.render(w, http.StatusOK, "experiment", view{Title: x.Key, Nav: "experiments", Who: &p, Data: v})
}

// reportChart serves the current phase's report as the SVG `ramp
// experiments report --plot` writes. It is an image of its own (not inline
// SVG) because the chart styles its elements with style attributes, which
// the pages' policy forbids; its own policy allows them and nothing else.
func (d *Dashboard) reportChart(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ctx := r.Context()
	x, err := d.opt.Admin.Experiment(ctx, r.PathValue("key"))
	if err != nil {
		return err
	}
	if x.Phase == 0 {
		return &ramp.Error{Kind: ramp.KindNotFound, Msg: "experiment " + x.Key + " has not started: no report yet"}
	}
	rep, err := d.opt.Admin.Report(ctx, admin.ReportRequest{Key: x.Key})
	if err != nil {
		return err
	}
	if rep.SampleRatio.Units <= d.seriesLimit() {
		if rep, err = d.opt.Admin.Report(ctx, admin.ReportRequest{Key: x.Key, Series: true}); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := chart.WriteSVG(&buf, reportchart.Of(&rep)); err != nil {
		if errors.Is(err, chart.ErrInvalid) {
			return &ramp.Error{Kind: ramp.KindNotFound, Msg: "nothing to draw yet: " + err.Error()}
		}
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", chartPolicy)
	_, err = buf.WriteTo(w)
	return err
}
