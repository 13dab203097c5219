package provider

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/tracking"
)

// newRecorder makes the recorder of one run: to the configured sink, else
// to the tracking endpoint of the server the provider syncs from; nil when
// tracking is off or a file provider has no sink.
func (p *Provider) newRecorder() (*tracking.Recorder, error) {
	if p.cfg.noTracking {
		return nil, nil
	}
	sink := p.cfg.sink
	if sink == nil {
		if p.base == "" {
			return nil, nil // a file provider records nothing unless given a sink
		}
		s, err := tracking.NewHTTPSink(p.base, p.key, p.cfg.client)
		if err != nil {
			return nil, err
		}
		sink = s
	}
	opt := p.cfg.recorder
	if opt.Logger == nil {
		opt.Logger = p.cfg.log.With("component", "ramp tracking")
	}
	return tracking.NewRecorder(sink, opt), nil
}

// closeRecorder flushes and stops the recorder of a run that ends.
func (p *Provider) closeRecorder(ctx context.Context, r *tracking.Recorder) error {
	if r == nil {
		return nil
	}
	if p.rec.Load() == r {
		p.rec.CompareAndSwap(r, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.flushTimeout)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		p.cfg.log.Error("ramp provider: exposures or events lost at shutdown", "err", err)
		return fmt.Errorf("ramp provider: %w", err)
	}
	return nil
}

// Track implements OpenFeature's Tracker: it records a tracking event for
// the units the evaluation context identifies — its targeting key and the
// attributes the configuration buckets by (such as accountCenterId), so
// that the event joins the exposures of every experiment whatever its
// unit; no other attribute is kept. The value is details.Value(); other
// details' attributes are not kept. The event gets a random 128-bit id
// here, so that a retried batch is stored once. Track never blocks: the
// event is queued and sent in a batch with the provider's exposures. An
// event whose context identifies nobody, or holds an identifier that is
// neither a string nor an integer, is dropped and counted.
func (p *Provider) Track(_ context.Context, name string, ec openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	r := p.rec.Load()
	if r == nil {
		return
	}
	flat := ec.Attributes() // a copy
	if tk := ec.TargetingKey(); tk != "" {
		flat[openfeature.TargetingKey] = tk
	}
	var attrs []string
	if l := p.current.Load(); l != nil {
		attrs = l.units
	}
	units, bad := tracking.Identifiers(flat, attrs)
	if bad != "" {
		p.cfg.log.Debug("ramp provider: event dropped: an identifier is neither a string nor an integer", "event", name, "attribute", bad)
		units = nil
	}
	r.Track(tracking.Event{Name: name, Value: details.Value(), Units: units})
}

// TrackingStats returns the counters of the current run's exposures and
// events (recorded, deduplicated, dropped, sent, failed batches), for
// metrics; zero when tracking is off or the provider is not running.
func (p *Provider) TrackingStats() tracking.Stats {
	if r := p.rec.Load(); r != nil {
		return r.Stats()
	}
	return tracking.Stats{}
}

var _ openfeature.Tracker = (*Provider)(nil)
