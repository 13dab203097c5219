package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// auditPageSize is how many entries the Audit log page shows at once.
const auditPageSize = 50

// auditEntry is one entry as the page shows it.
type auditEntry struct {
	admin.AuditEntry
	Summary string
	Diff    []admin.DiffLine
}

// auditView is the Audit log page.
type auditView struct {
	Flag, Cohort, Actor, Since, Until string
	Entries                           []auditEntry
	// Older links to the entries before the oldest shown, when there are.
	Older string
}

// dateLayouts are the forms the time filters accept: the browser's
// datetime-local input, a date, RFC 3339.
var dateLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339}

func parseWhen(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &ramp.Error{Kind: ramp.KindInvalid, Msg: field + " " + s + ": want a time such as 2026-12-05T08:00 (UTC) or a date"}
}

// auditPage shows the audit log, newest first, filtered by flag, cohort,
// actor and time, each entry with a one-line summary and its diff.
func (d *Dashboard) auditPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	v := auditView{Flag: strings.TrimSpace(q.Get("flag")), Cohort: strings.TrimSpace(q.Get("cohort")),
		Actor: strings.TrimSpace(q.Get("actor")), Since: q.Get("since"), Until: q.Get("until")}
	f := admin.AuditFilter{Actor: v.Actor, Limit: auditPageSize}
	switch {
	case v.Flag != "" && v.Cohort != "":
		return &ramp.Error{Kind: ramp.KindInvalid, Msg: "filter by a flag or by a cohort, not both"}
	case v.Flag != "":
		f.Target, f.Kinds = v.Flag, []string{"flag", "rollout"}
	case v.Cohort != "":
		f.Target, f.Kind = v.Cohort, "cohort"
	}
	var err error
	if f.Since, err = parseWhen("since", v.Since); err != nil {
		return err
	}
	if f.Until, err = parseWhen("until", v.Until); err != nil {
		return err
	}
	log, err := d.opt.Admin.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	for _, e := range slices.Backward(log.Entries) {
		v.Entries = append(v.Entries, auditEntry{AuditEntry: e, Summary: admin.SummarizeChange(e.Before, e.After),
			Diff: admin.DiffChange(e.Before, e.After)})
	}
	if log.More && len(log.Entries) > 0 {
		older := url.Values{}
		for k, val := range map[string]string{"flag": v.Flag, "cohort": v.Cohort, "actor": v.Actor, "since": v.Since} {
			if val != "" {
				older.Set(k, val)
			}
		}
		older.Set("until", log.Entries[0].At.UTC().Format(time.RFC3339Nano))
		v.Older = "/audit?" + older.Encode()
	}
	return d.render(w, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", Who: &p, Data: v})
}
