package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// AuditEntry is one change recorded in the audit log. The log is
// append-only: no command changes or removes entries, and the database
// refuses statements that would (see migrate4).
type AuditEntry struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// Action is what happened: "apply.create", "apply.update",
	// "apply.delete", "flag.enable", "flag.disable", "flag.delete",
	// "cohort.add-members", "cohort.remove-members", "cohort.import"
	// (whose After also holds the import's record, see ImportRecord),
	// "key.create", "key.revoke", and for rollouts "rollout.advance",
	// "rollout.pause"… .
	Action string `json:"action"`
	Kind   string `json:"kind"`   // "flag", "cohort", "key", "rollout" or "epoch"
	Target string `json:"target"` // the flag's, cohort's or key's name; a rollout's flag
	// Before and After are the object's JSON before and after the change:
	// a flags.Flag, for cohorts the key, description, conditions and
	// memberCount, a Key, a rollout. Before is nil for a creation, After
	// for a deletion.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// AuditFilter selects audit entries: those that match every field set.
// Zero fields select everything.
type AuditFilter struct {
	Kind   string    // "flag", "cohort", "key", "rollout", "layer", "experiment", "metric" or "epoch"
	Kinds  []string  // any of these kinds
	Target string    // a flag, cohort or key name
	Actor  string    // who made the change
	Action string    // a prefix of the action: "rollout." or "flag.disable"
	Since  time.Time // entries at or after this time
	Until  time.Time // entries before this time
	Limit  int       // at most this many, the newest
}

// Audit returns the audit entries the filter selects, oldest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := s.r.WithContext(ctx).Model(&auditRow{})
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if len(f.Kinds) > 0 {
		q = q.Where("kind IN ?", f.Kinds)
	}
	if f.Target != "" {
		q = q.Where("target = ?", f.Target)
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.Action != "" {
		// Not LIKE, whose case sensitivity differs between engines and
		// which would read "_" in an action as a wildcard.
		q = q.Where("SUBSTR(action, 1, ?) = ?", utf8.RuneCountInString(f.Action), f.Action)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	q = q.Order("id DESC")
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, s.wrap("read audit log", err)
	}
	slices.Reverse(rows)
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Kind: r.Kind, Target: r.Target}
		if r.Before != nil {
			out[i].Before = json.RawMessage(*r.Before)
		}
		if r.After != nil {
			out[i].After = json.RawMessage(*r.After)
		}
	}
	return out, nil
}

// errAppendOnly is the message the database gives when a statement tries to
// change or remove audit entries.
const errAppendOnly = "audit_log is append-only: entries cannot be updated or deleted"

// migrate4 (schema version 5) makes the audit log append-only in the
// database itself: triggers abort any UPDATE or DELETE of its rows, and on
// Postgres any TRUNCATE, whoever sends it. Only dropping the table or its
// triggers, which needs the table's owner, gets past them.
func migrate4(tx *gorm.DB, _ *dialect) error {
	if tx.Dialector.Name() == "postgres" {
		return exec(tx,
			`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				RAISE EXCEPTION '`+errAppendOnly+` (% refused)', TG_OP
					USING ERRCODE = 'insufficient_privilege';
			END
			$$`,
			// FOR EACH STATEMENT: refused even when no row matches.
			`CREATE TRIGGER audit_log_append_only
				BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
				FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`,
		)
	}
	// SQLite has row triggers only, and no TRUNCATE.
	return exec(tx,
		`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
		BEGIN SELECT RAISE(ABORT, '`+errAppendOnly+` (UPDATE refused)'); END`,
		`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
		BEGIN SELECT RAISE(ABORT, '`+errAppendOnly+` (DELETE refused)'); END`,
	)
}
