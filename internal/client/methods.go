package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/rollout"
)

// WhoAmI returns the principal the client's credential stands for.
func (c *Client) WhoAmI(ctx context.Context) (auth.Principal, error) {
	var p auth.Principal
	_, err := c.get(ctx, "/whoami", nil, &p)
	return p, err
}

// Revision returns the database's epoch and configuration version.
func (c *Client) Revision(ctx context.Context) (ramp.Revision, error) {
	var rev ramp.Revision
	if _, err := c.get(ctx, "/db", nil, &rev); err != nil {
		return rev, err
	}
	c.mu.Lock()
	c.epoch = rev.Epoch
	c.mu.Unlock()
	return rev, nil
}

// RenewEpoch gives the database a new epoch.
func (c *Client) RenewEpoch(ctx context.Context) (ramp.Revision, error) {
	var rev ramp.Revision
	_, err := c.post(ctx, "/db/renew-epoch", nil, &rev)
	return rev, err
}

// Snapshot returns the composed configuration, compiled, from the
// server's wire document.
func (c *Client) Snapshot(ctx context.Context) (*flags.Snapshot, error) {
	return c.snapshot(ctx, request{method: http.MethodGet, path: "/snapshot"})
}

func (c *Client) snapshot(ctx context.Context, rq request) (*flags.Snapshot, error) {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	snap, err := wire.Decode(doc)
	if err != nil {
		return nil, fmt.Errorf("ramp server %s: snapshot: %w", c.base.Redacted(), err)
	}
	return snap, nil
}

// SnapshotFor returns the configuration compiled for deciding one
// context: cohort lists are read for its targeting key alone, as
// admin.Service.SnapshotFor reads them, so that it costs nothing per
// listed member.
func (c *Client) SnapshotFor(ctx context.Context, evalCtx map[string]any) (*flags.Snapshot, error) {
	return c.snapshot(ctx, request{method: http.MethodPost, path: "/snapshot", json: api.ContextBody{Context: evalCtx}})
}

// ExplainRollout says which stage of a flag's plan admitted a context;
// the server decides the flag itself (d is not sent: it is the decision
// the server makes for evalCtx).
func (c *Client) ExplainRollout(ctx context.Context, flag string, evalCtx map[string]any, _ *flags.Decision) (*admin.RolloutExplanation, error) {
	var ex *admin.RolloutExplanation
	_, err := c.post(ctx, "/rollouts/"+seg(flag)+"/explain", api.ContextBody{Context: evalCtx}, &ex)
	return ex, err
}

// Evaluate decides a flag for a context on the server.
func (c *Client) Evaluate(ctx context.Context, flag string, evalCtx map[string]any) (map[string]any, error) {
	var out map[string]any
	_, err := c.post(ctx, "/flags/"+seg(flag)+"/evaluate", api.ContextBody{Context: evalCtx}, &out)
	return out, err
}

// Apply sends a configuration document, as the file it was parsed from,
// to be applied (or compared, with DryRun).
func (c *Client) Apply(ctx context.Context, req admin.ApplyRequest) (*admin.ApplyResult, error) {
	name, data := req.Doc.Source()
	q := url.Values{"file": {name}}
	if req.DryRun {
		q.Set("dryRun", "true")
	}
	if req.Prune {
		q.Set("prune", "true")
	}
	var res admin.ApplyResult
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/apply", query: q, body: bytes.NewReader(data), contentType: "application/yaml"}, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Export writes the configuration as a document in format (yaml or
// json) to w, streamed.
func (c *Client) Export(ctx context.Context, w io.Writer, format string) (admin.ExportResult, error) {
	var res admin.ExportResult
	err := c.stream(ctx, request{method: http.MethodGet, path: "/export", query: url.Values{"format": {format}}}, w, &res)
	return res, err
}

// stream copies a streamed answer to w and reads its result trailer into
// out, or the problem that cut it short.
func (c *Client) stream(ctx context.Context, rq request, w io.Writer, out any) error {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return c.transportError(ctx, err)
		}
		return fmt.Errorf("ramp server %s: %s %s: %w", c.base.Redacted(), rq.method, rq.path, err)
	}
	if s := resp.Trailer.Get(api.TrailerError); s != "" {
		var p api.Problem
		if err := api.DecodeTrailer(s, &p); err != nil {
			return fmt.Errorf("ramp server %s: %s %s failed (unreadable problem)", c.base.Redacted(), rq.method, rq.path)
		}
		return p.Err()
	}
	s := resp.Trailer.Get(api.TrailerResult)
	if s == "" {
		return fmt.Errorf("ramp server %s: %s %s: the answer ended early (no result)", c.base.Redacted(), rq.method, rq.path)
	}
	return api.DecodeTrailer(s, out)
}

// Audit reads the audit log.
func (c *Client) Audit(ctx context.Context, f admin.AuditFilter) (admin.AuditLog, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("kind", f.Kind)
	set("target", f.Target)
	set("actor", f.Actor)
	set("action", f.Action)
	for _, k := range f.Kinds {
		q.Add("kinds", k)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var log admin.AuditLog
	_, err := c.get(ctx, "/audit", q, &log)
	return log, err
}

// Flags returns every flag.
func (c *Client) Flags(ctx context.Context) ([]admin.FlagInfo, error) {
	var fs []api.Flag
	if _, err := c.get(ctx, "/flags", nil, &fs); err != nil {
		return nil, err
	}
	out := make([]admin.FlagInfo, len(fs))
	for i := range fs {
		out[i] = fs[i].Info()
	}
	return out, nil
}

// Flag returns one flag.
func (c *Client) Flag(ctx context.Context, key string) (admin.FlagInfo, error) {
	var f api.Flag
	_, err := c.get(ctx, "/flags/"+seg(key), nil, &f)
	return f.Info(), err
}

// SetEnabled flips a flag's kill switch.
func (c *Client) SetEnabled(ctx context.Context, key string, enabled bool) (flags.Flag, error) {
	verb := "/disable"
	if enabled {
		verb = "/enable"
	}
	var f api.Flag
	_, err := c.post(ctx, "/flags/"+seg(key)+verb, nil, &f)
	return f.Info().Flag, err
}

// DeleteFlag deletes a flag.
func (c *Client) DeleteFlag(ctx context.Context, key string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/flags/" + seg(key)}, nil)
	return err
}

// Cohorts returns every cohort.
func (c *Client) Cohorts(ctx context.Context) ([]admin.Cohort, error) {
	var cs []admin.Cohort
	_, err := c.get(ctx, "/cohorts", nil, &cs)
	return cs, err
}

// Cohort returns one cohort.
func (c *Client) Cohort(ctx context.Context, key string) (admin.Cohort, error) {
	var co admin.Cohort
	_, err := c.get(ctx, "/cohorts/"+seg(key), nil, &co)
	return co, err
}

// AddMembers adds members to a cohort's list.
func (c *Client) AddMembers(ctx context.Context, req admin.AddMembersRequest) (admin.MemberEdit, error) {
	var res admin.MemberEdit
	_, err := c.post(ctx, "/cohorts/"+seg(req.Cohort)+"/members", api.MembersBody{Members: req.Members, Create: req.Create}, &res)
	return res, err
}

// RemoveMembers removes ids from a cohort's list.
func (c *Client) RemoveMembers(ctx context.Context, cohort string, ids []string) (admin.MemberEdit, error) {
	var res admin.MemberEdit
	_, err := c.post(ctx, "/cohorts/"+seg(cohort)+"/members/remove", api.RemoveMembersBody{IDs: ids}, &res)
	return res, err
}

// ExportMembers streams a cohort's members as CSV to w.
func (c *Client) ExportMembers(ctx context.Context, cohort string, w io.Writer, opt admin.ExportOptions) (int, error) {
	q := url.Values{}
	if opt.Raw {
		q.Set("raw", "true")
	}
	var n int
	err := c.stream(ctx, request{method: http.MethodGet, path: "/cohorts/" + seg(cohort) + "/members", query: q}, w, &n)
	return n, err
}

// csvQuery puts CSV options in a query.
func csvQuery(q url.Values, opt csvfile.Options) {
	if opt.IDColumn != "" {
		q.Set("idColumn", opt.IDColumn)
	}
	if opt.RegionColumn != "" {
		q.Set("regionColumn", opt.RegionColumn)
	}
	if opt.Delimiter != 0 {
		q.Set("delimiter", string(opt.Delimiter))
	}
	if opt.MaxRows > 0 {
		q.Set("maxRows", strconv.Itoa(opt.MaxRows))
	}
	if opt.MaxLineBytes > 0 {
		q.Set("maxLineBytes", strconv.Itoa(opt.MaxLineBytes))
	}
}

// ImportMembers streams a CSV file into a cohort's member list: the
// request body is req.Source as it is read, never buffered whole.
// req.Progress hears of the server's progress as it reads; req.Header and
// req.CSV.OnInvalid hear, once the server answers, of the file's header and
// of the rows it skipped.
func (c *Client) ImportMembers(ctx context.Context, req admin.ImportRequest) (admin.ImportResult, error) {
	q := url.Values{}
	if req.Mode != "" {
		q.Set("mode", string(req.Mode))
	}
	if req.File != "" {
		q.Set("file", req.File)
	}
	for k, v := range map[string]bool{"create": req.Create, "dryRun": req.DryRun, "allowEmpty": req.AllowEmpty, "skipInvalid": req.CSV.OnInvalid != nil} {
		if v {
			q.Set(k, "true")
		}
	}
	if req.Samples > 0 {
		q.Set("samples", strconv.Itoa(req.Samples))
	}
	csvQuery(q, req.CSV)
	var ans api.ImportAnswer
	if err := c.upload(ctx, request{method: http.MethodPost, path: "/cohorts/" + seg(req.Cohort) + "/import", query: q,
		body: req.Source, contentType: "text/csv"}, req.Progress, &ans); err != nil {
		return ans.Result, err
	}
	if req.Header != nil && ans.Header != nil {
		if err := req.Header(ans.Header); err != nil {
			return ans.Result, err
		}
	}
	if req.CSV.OnInvalid != nil {
		for _, r := range ans.Rejected {
			if err := req.CSV.OnInvalid(csvfile.Problem{Line: r.Line, Reason: r.Reason, Record: r.Record}); err != nil {
				return ans.Result, err
			}
		}
	}
	return ans.Result, nil
}

// DiffMembers compares a streamed CSV file with a cohort's list.
func (c *Client) DiffMembers(ctx context.Context, req admin.DiffRequest) (admin.Diff, error) {
	q := url.Values{}
	if req.File != "" {
		q.Set("file", req.File)
	}
	if req.Samples > 0 {
		q.Set("samples", strconv.Itoa(req.Samples))
	}
	csvQuery(q, req.CSV)
	var d admin.Diff
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/cohorts/" + seg(req.Cohort) + "/diff", query: q,
		body: req.Source, contentType: "text/csv"}, &d)
	return d, err
}

// Metrics returns every metric.
func (c *Client) Metrics(ctx context.Context) ([]admin.MetricInfo, error) {
	var ms []admin.MetricInfo
	_, err := c.get(ctx, "/metrics", nil, &ms)
	return ms, err
}

// Metric returns one metric.
func (c *Client) Metric(ctx context.Context, key string) (admin.MetricInfo, error) {
	var m admin.MetricInfo
	_, err := c.get(ctx, "/metrics/"+seg(key), nil, &m)
	return m, err
}

// Keys lists API keys (all: revoked ones too).
func (c *Client) Keys(ctx context.Context, all bool) ([]admin.Key, error) {
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	var ks []admin.Key
	_, err := c.get(ctx, "/keys", q, &ks)
	return ks, err
}

// CreateKey creates an API key; its secret is in the answer, once.
func (c *Client) CreateKey(ctx context.Context, req admin.CreateKeyRequest) (admin.CreatedKey, error) {
	var k admin.CreatedKey
	_, err := c.post(ctx, "/keys", req, &k)
	return k, err
}

// RevokeKey revokes an API key.
func (c *Client) RevokeKey(ctx context.Context, name string) (admin.Key, error) {
	var k admin.Key
	_, err := c.post(ctx, "/keys/"+seg(name)+"/revoke", nil, &k)
	return k, err
}

// ImportEvents streams a CSV file of tracking events to the server.
func (c *Client) ImportEvents(ctx context.Context, req admin.EventImportRequest) (admin.EventImportResult, error) {
	q := url.Values{}
	if req.File != "" {
		q.Set("file", req.File)
	}
	csvQuery(q, csvfile.Options{Delimiter: req.CSV.Delimiter, MaxRows: req.CSV.MaxRows, MaxLineBytes: req.CSV.MaxLineBytes})
	var res admin.EventImportResult
	err := c.upload(ctx, request{method: http.MethodPost, path: "/events/import", query: q, body: req.Source, contentType: "text/csv"}, req.Progress, &res)
	return res, err
}

// Compact folds tracking events into per-unit totals on the server.
func (c *Client) Compact(ctx context.Context, opt admin.CompactOptions) (admin.CompactResult, error) {
	body := api.CompactBody{RebuildStats: opt.RebuildStats}
	if opt.Retention > 0 {
		body.Retention = opt.Retention.String()
	}
	var res admin.CompactResult
	_, err := c.post(ctx, "/events/compact", body, &res)
	return res, err
}

// TrackingStats counts what the event store holds.
func (c *Client) TrackingStats(ctx context.Context) (admin.TrackingStats, error) {
	var st admin.TrackingStats
	_, err := c.get(ctx, "/events/stats", nil, &st)
	return st, err
}

// Experiments returns every experiment.
func (c *Client) Experiments(ctx context.Context) ([]admin.ExperimentInfo, error) {
	var es []admin.ExperimentInfo
	_, err := c.get(ctx, "/experiments", nil, &es)
	return es, err
}

// Experiment returns one experiment.
func (c *Client) Experiment(ctx context.Context, key string) (admin.ExperimentInfo, error) {
	var e admin.ExperimentInfo
	_, err := c.get(ctx, "/experiments/"+seg(key), nil, &e)
	return e, err
}

func (c *Client) experimentMove(ctx context.Context, key, verb string, body any, base int64) (admin.ExperimentResult, error) {
	rq := request{method: http.MethodPost, path: "/experiments/" + seg(key) + "/" + verb, json: body}
	if rq.json == nil {
		rq.json = struct{}{}
	}
	if base != 0 {
		tag, err := c.etag(ctx, base)
		if err != nil {
			return admin.ExperimentResult{}, err
		}
		rq.ifMatch = tag
	}
	var res admin.ExperimentResult
	_, err := c.call(ctx, rq, &res)
	return res, err
}

// StartExperiment starts a draft experiment.
func (c *Client) StartExperiment(ctx context.Context, key string) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, key, "start", nil, 0)
}

// PauseExperiment pauses a running experiment.
func (c *Client) PauseExperiment(ctx context.Context, key string) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, key, "pause", nil, 0)
}

// ResumeExperiment resumes a paused experiment.
func (c *Client) ResumeExperiment(ctx context.Context, key string) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, key, "resume", nil, 0)
}

// StopExperiment stops an experiment.
func (c *Client) StopExperiment(ctx context.Context, req admin.StopRequest) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, req.Key, "stop", api.StopBody{Ship: req.Ship, Rollout: req.Rollout, Confirmed: req.Confirmed}, req.BaseVersion)
}

// SetExperimentTraffic sets an experiment's share of its layer.
func (c *Client) SetExperimentTraffic(ctx context.Context, req admin.TrafficRequest) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, req.Key, "traffic", api.TrafficBody{Traffic: req.Traffic}, req.BaseVersion)
}

// SetExperimentWeights sets an experiment's arm weights.
func (c *Client) SetExperimentWeights(ctx context.Context, req admin.WeightsRequest) (admin.ExperimentResult, error) {
	return c.experimentMove(ctx, req.Key, "weights", api.WeightsBody{Arms: req.Arms, NewPhase: req.NewPhase, Traffic: req.Traffic,
		DryRun: req.DryRun, Confirmed: req.Confirmed}, req.BaseVersion)
}

// Report reads an experiment's report.
func (c *Client) Report(ctx context.Context, req admin.ReportRequest) (report.Report, error) {
	q := url.Values{"compact": {strconv.FormatBool(req.Compact)}}
	if req.Phase > 0 {
		q.Set("phase", strconv.Itoa(req.Phase))
	}
	if req.Options.Level > 0 {
		q.Set("level", strconv.FormatFloat(req.Options.Level, 'g', -1, 64))
	}
	if req.Options.NStar > 0 {
		q.Set("nStar", strconv.FormatFloat(req.Options.NStar, 'g', -1, 64))
	}
	if req.Series {
		q.Set("series", "true")
	}
	var r report.Report
	_, err := c.get(ctx, "/experiments/"+seg(req.Key)+"/report", q, &r)
	return r, err
}

// ExposureCounts returns an experiment's exposed units per phase and arm.
func (c *Client) ExposureCounts(ctx context.Context, experiment string) ([]admin.ExposureCount, error) {
	var cs []admin.ExposureCount
	_, err := c.get(ctx, "/experiments/"+seg(experiment)+"/exposures", nil, &cs)
	return cs, err
}

// RolloutStatuses returns the status of every plan.
func (c *Client) RolloutStatuses(ctx context.Context) ([]admin.RolloutStatus, error) {
	var sts []admin.RolloutStatus
	_, err := c.get(ctx, "/rollouts", nil, &sts)
	return sts, err
}

// RolloutStatus returns the status of a flag's plan.
func (c *Client) RolloutStatus(ctx context.Context, flag string) (admin.RolloutStatus, error) {
	var st admin.RolloutStatus
	_, err := c.get(ctx, "/rollouts/"+seg(flag)+"/status", nil, &st)
	return st, err
}

// RolloutGet returns a flag's plan as stored.
func (c *Client) RolloutGet(ctx context.Context, flag string) (rollout.Rollout, error) {
	var r rollout.Rollout
	_, err := c.get(ctx, "/rollouts/"+seg(flag), nil, &r)
	return r, err
}

// RolloutHistory returns a plan's history.
func (c *Client) RolloutHistory(ctx context.Context, flag string) ([]admin.HistoryEvent, error) {
	var hs []admin.HistoryEvent
	_, err := c.get(ctx, "/rollouts/"+seg(flag)+"/history", nil, &hs)
	return hs, err
}

// Estimate counts the listed users a move changes.
func (c *Client) Estimate(ctx context.Context, req admin.EstimateRequest) (admin.KnownEstimate, error) {
	var est admin.KnownEstimate
	_, err := c.post(ctx, "/rollouts/"+seg(req.Flag)+"/estimate", api.EstimateBody{From: req.From, To: req.To}, &est)
	return est, err
}

// planTag returns the If-Match of a move or edit of flag's plan: the
// version the caller decided from, else the plan's current one (read
// now: the move is then computed on what the server holds at its write,
// as locally, and refused if the plan changes in between).
func (c *Client) planTag(ctx context.Context, flag string, base int64) (string, error) {
	if base != 0 {
		return c.etag(ctx, base)
	}
	var r rollout.Rollout
	return c.get(ctx, "/rollouts/"+seg(flag), nil, &r)
}

// move sends a rollout move, with If-Match when needed.
func (c *Client) move(ctx context.Context, flag, verb string, body any, needsTag bool, base int64) (admin.MoveResult, error) {
	rq := request{method: http.MethodPost, path: "/rollouts/" + seg(flag) + "/" + verb, json: body}
	if needsTag {
		tag, err := c.planTag(ctx, flag, base)
		if err != nil {
			return admin.MoveResult{}, err
		}
		rq.ifMatch = tag
	}
	var res admin.MoveResult
	_, err := c.call(ctx, rq, &res)
	return res, err
}

// Advance starts a later stage of a flag's plan.
func (c *Client) Advance(ctx context.Context, req admin.AdvanceRequest) (admin.MoveResult, error) {
	return c.move(ctx, req.Flag, "advance", api.AdvanceBody{To: req.To, DryRun: req.DryRun, Force: req.Force, Confirmed: req.Confirmed},
		!req.DryRun, req.BaseVersion)
}

// Approve approves the stage awaiting approval.
func (c *Client) Approve(ctx context.Context, req admin.ApproveRequest) (admin.MoveResult, error) {
	return c.move(ctx, req.Flag, "approve", api.ApproveBody{Stage: req.Stage, Force: req.Force}, false, 0)
}

// Pause holds a flag's plan.
func (c *Client) Pause(ctx context.Context, req admin.PauseRequest) (admin.MoveResult, error) {
	return c.move(ctx, req.Flag, "pause", api.PauseBody{Reason: req.Reason}, false, 0)
}

// Resume releases a paused plan.
func (c *Client) Resume(ctx context.Context, flag string) (admin.MoveResult, error) {
	return c.move(ctx, flag, "resume", struct{}{}, false, 0)
}

// Rollback goes back to an earlier stage.
func (c *Client) Rollback(ctx context.Context, req admin.RollbackRequest) (admin.MoveResult, error) {
	return c.move(ctx, req.Flag, "rollback", api.RollbackBody{To: req.To, Reason: req.Reason, DryRun: req.DryRun, Confirmed: req.Confirmed},
		!req.DryRun, req.BaseVersion)
}

// Tick runs the schedule's pass on the server.
func (c *Client) Tick(ctx context.Context) (admin.TickResult, error) {
	var res admin.TickResult
	_, err := c.post(ctx, "/rollouts/tick", nil, &res)
	return res, err
}

// planEdit sends a plan edit with its If-Match (If-None-Match: * to
// create a plan).
func (c *Client) planEdit(ctx context.Context, method, flag, path string, body any, base int64, create bool) (admin.PlanEditResult, error) {
	rq := request{method: method, path: "/rollouts/" + seg(flag) + path, json: body}
	tag, err := c.planTag(ctx, flag, base)
	switch {
	case err == nil:
		rq.ifMatch = tag
	case create && ramp.KindOf(err) == ramp.KindNotFound:
		rq.ifNoneMatch = "*"
	default:
		return admin.PlanEditResult{}, err
	}
	var res admin.PlanEditResult
	_, err = c.call(ctx, rq, &res)
	return res, err
}

// AddStage adds a stage to a flag's plan, creating the plan with its
// first stage.
func (c *Client) AddStage(ctx context.Context, req admin.AddStageRequest) (admin.PlanEditResult, error) {
	return c.planEdit(ctx, http.MethodPost, req.Flag, "/stages", api.AddStageBody{Variant: req.Variant, Stage: req.Stage, Before: req.Before},
		req.BaseVersion, true)
}

// EditStage changes fields of one stage.
func (c *Client) EditStage(ctx context.Context, req admin.EditStageRequest) (admin.PlanEditResult, error) {
	return c.planEdit(ctx, http.MethodPatch, req.Flag, "/stages/"+seg(req.Stage), api.EditStageBody{Set: req.Set, Fields: req.Fields},
		req.BaseVersion, false)
}

// RemoveStage removes a stage from a flag's plan.
func (c *Client) RemoveStage(ctx context.Context, req admin.RemoveStageRequest) (admin.PlanEditResult, error) {
	return c.planEdit(ctx, http.MethodDelete, req.Flag, "/stages/"+seg(req.Stage), nil, req.BaseVersion, false)
}

// DeleteRollout deletes a flag's plan.
func (c *Client) DeleteRollout(ctx context.Context, flag string, baseVersion int64) (admin.PlanEditResult, error) {
	return c.planEdit(ctx, http.MethodDelete, flag, "", nil, baseVersion, false)
}

// CreateToken creates a personal token; its secret is in the answer,
// once.
func (c *Client) CreateToken(ctx context.Context, req admin.CreateTokenRequest) (admin.CreatedToken, error) {
	var tok admin.CreatedToken
	_, err := c.post(ctx, "/tokens", req, &tok)
	return tok, err
}

// Tokens lists personal tokens: every one for an admin, one's own for
// anyone else.
func (c *Client) Tokens(ctx context.Context, f admin.TokenFilter) ([]admin.Token, error) {
	q := url.Values{}
	if f.Person != "" {
		q.Set("person", f.Person)
	}
	if f.All {
		q.Set("all", "true")
	}
	var ts []admin.Token
	_, err := c.get(ctx, "/tokens", q, &ts)
	return ts, err
}

// RevokeToken revokes a personal token (an admin, or the token's person).
func (c *Client) RevokeToken(ctx context.Context, id string) (admin.Token, error) {
	var tok admin.Token
	_, err := c.post(ctx, "/tokens/"+seg(id)+"/revoke", nil, &tok)
	return tok, err
}
