package admin

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The metric part of an apply, and the metric read models. The file's
// metrics, validated by the config package with the rest of the file
// (file:line; every metric an experiment names must be declared), are
// diffed against the stored ones and written in the apply's transaction:
// created, updated field by field, and with --prune the ones the file does
// not declare deleted (an experiment that still names one is either in the
// file, and then validation refuses, or deleted too; a running one the
// file does not declare is refused by the experiment part). A change to
// metrics alone leaves the configuration version as it is: evaluation does
// not read metrics (see the store).

// MetricChange is a metric an apply creates, updates or deletes, or for a
// dry run would.
type MetricChange struct {
	Key    string       `json:"key"`
	Action flags.Action `json:"action"`
	// Fields names what an update changes.
	Fields []string `json:"fields,omitempty"`
}

// withMetrics completes an apply's changes (nil when nothing else
// changes) with the metric changes, inside the apply's transaction.
func withMetrics(tx *store.ApplyTx, req *ApplyRequest, res *ApplyResult, ch *store.Changes) (*store.Changes, error) {
	changes, err := planMetrics(tx, req, res)
	if err != nil || len(changes) == 0 {
		return ch, err
	}
	if ch == nil {
		ch = &store.Changes{}
	}
	ch.Metrics = changes
	return ch, nil
}

// planMetrics diffs the file's metrics with the stored ones and returns
// the changes to write, filling res.
func planMetrics(tx *store.ApplyTx, req *ApplyRequest, res *ApplyResult) ([]store.MetricChange, error) {
	declared := req.Doc.Metrics()
	stored, err := tx.Metrics()
	if err != nil {
		return nil, err
	}
	if len(declared) == 0 && (!req.Prune || len(stored) == 0) {
		return nil, nil
	}
	byKey := make(map[string]*store.StoredMetric, len(stored))
	for i := range stored {
		byKey[stored[i].Metric.Key] = &stored[i]
	}
	var out []store.MetricChange
	seen := make(map[string]bool, len(declared))
	for _, m := range declared {
		seen[m.Key] = true
		s := byKey[m.Key]
		if s == nil {
			out = append(out, store.MetricChange{Action: flags.Create, Key: m.Key, Metric: m})
			res.Metrics = append(res.Metrics, MetricChange{Key: m.Key, Action: flags.Create})
			continue
		}
		fields := metricChanges(&s.Metric, &m)
		if len(fields) == 0 {
			res.Summary["unchanged"]++
			continue
		}
		out = append(out, store.MetricChange{Action: flags.Update, Key: m.Key, Metric: m, BaseVersion: s.Version, Fields: fields})
		res.Metrics = append(res.Metrics, MetricChange{Key: m.Key, Action: flags.Update, Fields: fields})
	}
	if req.Prune {
		for _, s := range stored {
			if seen[s.Metric.Key] {
				continue
			}
			out = append(out, store.MetricChange{Action: flags.Delete, Key: s.Metric.Key, BaseVersion: s.Version})
			res.Metrics = append(res.Metrics, MetricChange{Key: s.Metric.Key, Action: flags.Delete})
		}
	}
	for _, c := range res.Metrics {
		res.Summary[string(c.Action)]++
	}
	return out, nil
}

// metricChanges names the fields that differ between the stored metric s
// and the file's f.
func metricChanges(s, f *experiment.Metric) []string {
	covariate := func(m *experiment.Metric) string {
		b, _ := json.Marshal(m.Covariate)
		return string(b)
	}
	var out []string
	for _, c := range []struct {
		name string
		same bool
	}{
		{"description", s.Description == f.Description},
		{"kind", s.Kind == f.Kind},
		{"event", s.Event == f.Event},
		{"numerator", s.Numerator == f.Numerator},
		{"denominator", s.Denominator == f.Denominator},
		{"window", s.Window == f.Window},
		{"direction", s.Sign() == f.Sign()},
		{"margin", s.Margin == f.Margin},
		{"covariate", covariate(s) == covariate(f)},
	} {
		if !c.same {
			out = append(out, c.name)
		}
	}
	return out
}

// MetricInfo is a metric as `ramp metrics list` and `get` show it.
type MetricInfo struct {
	Key         string                `json:"key"`
	Description string                `json:"description,omitempty"`
	Kind        experiment.MetricKind `json:"kind"`
	Event       string                `json:"event,omitempty"`
	Numerator   string                `json:"numerator,omitempty"`
	Denominator string                `json:"denominator,omitempty"`
	// Window is the window as the file writes it ("7d"), "" for the
	// whole phase; Days the day offsets from first exposure it counts
	// (nil without a window: every day from first exposure on).
	Window string    `json:"window,omitempty"`
	Days   *DayRange `json:"days,omitempty"`
	// Direction is "increase" or "decrease": which way is better.
	Direction string `json:"direction"`
	// Margin is the guardrail margin, relative, in percent (0: any
	// significant regression).
	Margin    float64        `json:"margin"`
	Covariate *CovariateInfo `json:"covariate,omitempty"`
	// UsedBy are the experiments that name the metric, in key order.
	UsedBy    []MetricUse `json:"usedBy,omitempty"`
	Version   int64       `json:"version"`
	UpdatedBy string      `json:"updatedBy,omitempty"`
	UpdatedAt time.Time   `json:"updatedAt,omitzero"`
}

// DayRange is a range of day offsets from first exposure, [From, To).
type DayRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// CovariateInfo is the pre-exposure value CUPED adjusts a metric by, with
// the defaults taken: the event summed and its days before exposure.
type CovariateInfo struct {
	Event  string   `json:"event"`
	Window string   `json:"window"`
	Days   DayRange `json:"days"`
}

// MetricUse is an experiment that names a metric, and as what: "primary",
// "secondary" or "guardrail".
type MetricUse struct {
	Experiment string            `json:"experiment"`
	Role       string            `json:"role"`
	Status     experiment.Status `json:"status"`
}

// metricInfo builds a metric's info; exps are the experiments that may
// name it.
func metricInfo(sm *store.StoredMetric, exps []store.StoredExperiment) MetricInfo {
	m := &sm.Metric
	info := MetricInfo{Key: m.Key, Description: m.Description, Kind: m.Kind, Event: m.Event, Numerator: m.Numerator,
		Denominator: m.Denominator, Window: daysWord(m.Window), Direction: "increase", Margin: m.Margin,
		Version: sm.Version, UpdatedBy: sm.UpdatedBy, UpdatedAt: sm.UpdatedAt}
	if m.WindowDays() > 0 {
		from, to := m.Days()
		info.Days = &DayRange{From: from, To: to}
	}
	if m.Sign() < 0 {
		info.Direction = "decrease"
	}
	if from, to, ok := m.CovariateDays(); ok {
		info.Covariate = &CovariateInfo{Event: m.CovariateEvent(), Window: strconv.Itoa(-from) + "d", Days: DayRange{from, to}}
	}
	for _, x := range exps {
		e := &x.Experiment
		status := e.Status
		if status == "" {
			status = experiment.Draft
		}
		use := func(role string) {
			info.UsedBy = append(info.UsedBy, MetricUse{Experiment: e.Key, Role: role, Status: status})
		}
		if e.Metrics.Primary == m.Key {
			use("primary")
		}
		for _, k := range e.Metrics.Secondary {
			if k == m.Key {
				use("secondary")
			}
		}
		for _, k := range e.Metrics.Guardrails {
			if k == m.Key {
				use("guardrail")
			}
		}
	}
	return info
}

// daysWord writes a window as the file does: "7d" for whole days, a
// duration otherwise, "" for none.
func daysWord(d rollout.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return ""
	case time.Duration(d)%day == 0:
		return strconv.FormatInt(int64(time.Duration(d)/day), 10) + "d"
	}
	return d.String()
}

// Metrics returns every metric, by key, with the experiments that name it.
func (s *Service) Metrics(ctx context.Context) ([]MetricInfo, error) {
	ms, err := s.db().Metrics(ctx)
	if err != nil {
		return nil, err
	}
	_, es, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MetricInfo, len(ms))
	for i := range ms {
		out[i] = metricInfo(&ms[i], es)
	}
	return out, nil
}

// Metric returns one metric with the experiments that name it, or an
// error matching ramp.ErrNotFound.
func (s *Service) Metric(ctx context.Context, key string) (MetricInfo, error) {
	m, err := s.db().Metric(ctx, key)
	if err != nil {
		return MetricInfo{}, err
	}
	_, es, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return MetricInfo{}, err
	}
	return metricInfo(&m, es), nil
}
