package cli

import (
	"context"
	"io"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

// Control is the control plane as commands use it: *admin.Service on a
// database (through local), or the admin API's client on a server
// (internal/client). Every command that works on a database calls it and
// nothing else, so that it prints the same and exits with the same code
// whichever implementation answers.
type Control interface {
	// Time is the current time, to say when something is due.
	Time() time.Time
	Close() error

	Revision(ctx context.Context) (ramp.Revision, error)
	RenewEpoch(ctx context.Context) (ramp.Revision, error)
	Snapshot(ctx context.Context) (*flags.Snapshot, error)
	SnapshotFor(ctx context.Context, evalCtx map[string]any) (*flags.Snapshot, error)
	Apply(ctx context.Context, req admin.ApplyRequest) (*admin.ApplyResult, error)
	Export(ctx context.Context, w io.Writer, format string) (admin.ExportResult, error)
	Audit(ctx context.Context, f admin.AuditFilter) (admin.AuditLog, error)

	Flags(ctx context.Context) ([]admin.FlagInfo, error)
	Flag(ctx context.Context, key string) (admin.FlagInfo, error)
	SetEnabled(ctx context.Context, key string, enabled bool) (flags.Flag, error)
	DeleteFlag(ctx context.Context, key string) error

	Cohorts(ctx context.Context) ([]admin.Cohort, error)
	Cohort(ctx context.Context, key string) (admin.Cohort, error)
	AddMembers(ctx context.Context, req admin.AddMembersRequest) (admin.MemberEdit, error)
	RemoveMembers(ctx context.Context, cohort string, ids []string) (admin.MemberEdit, error)
	ExportMembers(ctx context.Context, cohort string, w io.Writer, opt admin.ExportOptions) (int, error)
	ImportMembers(ctx context.Context, req admin.ImportRequest) (admin.ImportResult, error)
	DiffMembers(ctx context.Context, req admin.DiffRequest) (admin.Diff, error)

	Keys(ctx context.Context, all bool) ([]admin.Key, error)
	CreateKey(ctx context.Context, req admin.CreateKeyRequest) (admin.CreatedKey, error)
	RevokeKey(ctx context.Context, name string) (admin.Key, error)
	CreateToken(ctx context.Context, req admin.CreateTokenRequest) (admin.CreatedToken, error)
	Tokens(ctx context.Context, f admin.TokenFilter) ([]admin.Token, error)
	RevokeToken(ctx context.Context, id string) (admin.Token, error)

	RolloutStatuses(ctx context.Context) ([]admin.RolloutStatus, error)
	RolloutStatus(ctx context.Context, flag string) (admin.RolloutStatus, error)
	RolloutGet(ctx context.Context, flag string) (rollout.Rollout, error)
	RolloutHistory(ctx context.Context, flag string) ([]admin.HistoryEvent, error)
	ExplainRollout(ctx context.Context, flag string, evalCtx map[string]any, d *flags.Decision) (*admin.RolloutExplanation, error)
	Advance(ctx context.Context, req admin.AdvanceRequest) (admin.MoveResult, error)
	Approve(ctx context.Context, req admin.ApproveRequest) (admin.MoveResult, error)
	Pause(ctx context.Context, req admin.PauseRequest) (admin.MoveResult, error)
	Resume(ctx context.Context, flag string) (admin.MoveResult, error)
	Rollback(ctx context.Context, req admin.RollbackRequest) (admin.MoveResult, error)
	Tick(ctx context.Context) (admin.TickResult, error)
	AddStage(ctx context.Context, req admin.AddStageRequest) (admin.PlanEditResult, error)
	EditStage(ctx context.Context, req admin.EditStageRequest) (admin.PlanEditResult, error)
	RemoveStage(ctx context.Context, req admin.RemoveStageRequest) (admin.PlanEditResult, error)
	DeleteRollout(ctx context.Context, flag string, baseVersion int64) (admin.PlanEditResult, error)

	Experiments(ctx context.Context) ([]admin.ExperimentInfo, error)
	Experiment(ctx context.Context, key string) (admin.ExperimentInfo, error)
	StartExperiment(ctx context.Context, key string) (admin.ExperimentResult, error)
	PauseExperiment(ctx context.Context, key string) (admin.ExperimentResult, error)
	ResumeExperiment(ctx context.Context, key string) (admin.ExperimentResult, error)
	StopExperiment(ctx context.Context, req admin.StopRequest) (admin.ExperimentResult, error)
	SetExperimentTraffic(ctx context.Context, req admin.TrafficRequest) (admin.ExperimentResult, error)
	SetExperimentWeights(ctx context.Context, req admin.WeightsRequest) (admin.ExperimentResult, error)
	Report(ctx context.Context, req admin.ReportRequest) (report.Report, error)
	ExposureCounts(ctx context.Context, experiment string) ([]admin.ExposureCount, error)
	Metrics(ctx context.Context) ([]admin.MetricInfo, error)
	Metric(ctx context.Context, key string) (admin.MetricInfo, error)

	ImportEvents(ctx context.Context, req admin.EventImportRequest) (admin.EventImportResult, error)
	Compact(ctx context.Context, opt admin.CompactOptions) (admin.CompactResult, error)
	TrackingStats(ctx context.Context) (admin.TrackingStats, error)
}

// local is the control plane on a database.
type local struct{ *admin.Service }

// Time is the database's clock.
func (l local) Time() time.Time { return l.Service.Now() }

var (
	_ Control = local{}
	_ Control = (*remoteControl)(nil)
)
