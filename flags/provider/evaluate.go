package provider

import (
	"context"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags"
)

// The evaluation methods read the current snapshot and run the engine's
// typed look-ups on the SDK's flattened context (the same map shape the
// engine reads). They never wait: before the first snapshot they return the
// caller's default with PROVIDER_NOT_READY. The returned FlagMetadata is
// shared by every decision of the same flag, rule and version: read it,
// do not modify it (the SDK copies it before handing it to hooks).
//
// The five methods are written out rather than built on one generic helper
// taking the typed look-up: that helper measured 16 ns more per decision
// (the look-up is no longer inlined), two thirds of the provider's whole
// overhead on the engine (BenchmarkBool, 2026-11-24).

var notReady = openfeature.ProviderResolutionDetail{
	ResolutionError: openfeature.NewProviderNotReadyResolutionError("ramp: no snapshot loaded yet"),
	Reason:          openfeature.ErrorReason,
}

// BooleanEvaluation decides a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, fc openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	l := p.current.Load()
	if l == nil {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: notReady}
	}
	v, d := l.snap.Bool(flag, def, fc)
	if d.Origin != nil {
		p.expose(&d, fc)
	}
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: l.resolution(&d)}
}

// StringEvaluation decides a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, fc openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	l := p.current.Load()
	if l == nil {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: notReady}
	}
	v, d := l.snap.String(flag, def, fc)
	if d.Origin != nil {
		p.expose(&d, fc)
	}
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: l.resolution(&d)}
}

// IntEvaluation decides an integer flag.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, fc openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	l := p.current.Load()
	if l == nil {
		return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: notReady}
	}
	v, d := l.snap.Int(flag, def, fc)
	if d.Origin != nil {
		p.expose(&d, fc)
	}
	return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: l.resolution(&d)}
}

// FloatEvaluation decides a float flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, fc openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	l := p.current.Load()
	if l == nil {
		return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: notReady}
	}
	v, d := l.snap.Float(flag, def, fc)
	if d.Origin != nil {
		p.expose(&d, fc)
	}
	return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: l.resolution(&d)}
}

// ObjectEvaluation decides an object flag. The value is a copy the caller
// may modify (a map[string]any or []any as JSON decodes them).
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, fc openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	l := p.current.Load()
	if l == nil {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: notReady}
	}
	v, d := l.snap.Object(flag, def, fc)
	if d.Origin != nil {
		p.expose(&d, fc)
	}
	return openfeature.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: l.resolution(&d)}
}

// expose records the exposure of a decision made by a rule with an origin
// (the recorder ignores all but running experiments'), when the provider
// records exposures.
func (p *Provider) expose(d *flags.Decision, fc openfeature.FlattenedContext) {
	if r := p.rec.Load(); r != nil {
		r.Expose(d, fc)
	}
}

// resolution converts an engine decision to OpenFeature's resolution detail.
func (l *loaded) resolution(d *flags.Decision) openfeature.ProviderResolutionDetail {
	r := openfeature.ProviderResolutionDetail{
		Reason:       reason(d.Reason),
		Variant:      d.Variant,
		FlagMetadata: l.metadata(d),
	}
	if d.ErrorCode != "" {
		r.ResolutionError = resolutionError(d.ErrorCode, d.ErrorDetails)
	}
	return r
}

// reason maps the engine's reasons to OpenFeature's. They are spelt alike;
// the table keeps a new engine reason from leaking out unmapped.
func reason(r flags.Reason) openfeature.Reason {
	switch r {
	case flags.ReasonStatic:
		return openfeature.StaticReason
	case flags.ReasonTargetingMatch:
		return openfeature.TargetingMatchReason
	case flags.ReasonSplit:
		return openfeature.SplitReason
	case flags.ReasonDefault:
		return openfeature.DefaultReason
	case flags.ReasonDisabled:
		return openfeature.DisabledReason
	case flags.ReasonError:
		return openfeature.ErrorReason
	}
	return openfeature.UnknownReason
}

// resolutionError maps the engine's error codes to OpenFeature's resolution
// errors (whose fields only its constructors can set).
func resolutionError(code flags.ErrorCode, msg string) openfeature.ResolutionError {
	switch code {
	case flags.ErrFlagNotFound:
		return openfeature.NewFlagNotFoundResolutionError(msg)
	case flags.ErrTypeMismatch:
		return openfeature.NewTypeMismatchResolutionError(msg)
	case flags.ErrTargetingKeyMissing:
		return openfeature.NewTargetingKeyMissingResolutionError(msg)
	case flags.ErrInvalidContext:
		return openfeature.NewInvalidContextResolutionError(msg)
	case flags.ErrParse:
		return openfeature.NewParseErrorResolutionError(msg)
	}
	return openfeature.NewGeneralResolutionError(msg)
}
