package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// flagsView is the Flags page: the flags a search selects.
type flagsView struct {
	Q, Owner, Tag string
	Owners, Tags  []string
	Flags         []admin.FlagInfo
	Total         int
}

// flagsPage lists the flags, searchable by key (or description), owner and
// tag.
func (d *Dashboard) flagsPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	all, err := d.opt.Admin.Flags(r.Context())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := flagsView{Q: strings.TrimSpace(q.Get("q")), Owner: q.Get("owner"), Tag: q.Get("tag"), Total: len(all)}
	owners, tags := map[string]bool{}, map[string]bool{}
	needle := strings.ToLower(v.Q)
	for _, f := range all {
		if f.Flag.Owner != "" {
			owners[f.Flag.Owner] = true
		}
		for _, t := range f.Flag.Tags {
			tags[t] = true
		}
		switch {
		case needle != "" && !strings.Contains(strings.ToLower(f.Flag.Key), needle) &&
			!strings.Contains(strings.ToLower(f.Flag.Description), needle):
			continue
		case v.Owner != "" && f.Flag.Owner != v.Owner:
			continue
		case v.Tag != "" && !slices.Contains(f.Flag.Tags, v.Tag):
			continue
		}
		v.Flags = append(v.Flags, f)
	}
	for o := range owners {
		v.Owners = append(v.Owners, o)
	}
	for t := range tags {
		v.Tags = append(v.Tags, t)
	}
	slices.Sort(v.Owners)
	slices.Sort(v.Tags)
	return d.render(w, http.StatusOK, "flags", view{Title: "Flags", Nav: "flags", Who: &p, Data: v})
}

// flagView is one flag's page.
type flagView struct {
	admin.FlagInfo
	Status *admin.RolloutStatus
	// The "why does this user get this variant" form and its answer.
	User, Region, Attrs string
	Explained           bool
	Explanation         *flags.Explanation
	Rollout             *admin.RolloutExplanation
	ExplainError        string
	Done                string
}

// flagPage shows a flag: variants, rules in order, the kill switch, its
// plan and experiments, and the explanation of one context's decision when
// the form asks for it.
func (d *Dashboard) flagPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx := r.Context()
	info, err := d.opt.Admin.Flag(ctx, r.PathValue("key"))
	if err != nil {
		return err
	}
	v := flagView{FlagInfo: info, Done: doneMessage(r)}
	if info.Rollout != nil {
		st := admin.StatusOf(info.Rollout, &info.Flag)
		v.Status = &st
	}
	q := r.URL.Query()
	v.User, v.Region, v.Attrs = strings.TrimSpace(q.Get("user")), strings.TrimSpace(q.Get("region")), strings.TrimSpace(q.Get("attrs"))
	if q.Has("user") {
		v.Explained = true
		evalCtx, err := explainContext(v.User, v.Region, v.Attrs)
		if err != nil {
			v.ExplainError = err.Error()
		} else {
			ex, err := d.opt.Admin.Explain(ctx, info.Flag.Key, evalCtx)
			if err != nil {
				return err
			}
			v.Explanation = &ex
			if v.Rollout, err = d.opt.Admin.ExplainRollout(ctx, info.Flag.Key, evalCtx, &ex.Decision); err != nil {
				return err
			}
		}
	}
	return d.render(w, http.StatusOK, "flag", view{Title: info.Flag.Key, Nav: "flags", Who: &p, Data: v})
}

// explainContext builds the evaluation context of the explain form: the
// user as targetingKey, the region, and more attributes as a JSON object.
func explainContext(user, region, attrs string) (map[string]any, error) {
	evalCtx := map[string]any{}
	if attrs != "" {
		if err := json.Unmarshal([]byte(attrs), &evalCtx); err != nil || evalCtx == nil {
			return nil, &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf("more attributes: want a JSON object such as {\"appVersion\":\"301.0.0\"}: %v", err)}
		}
	}
	if user == "" && evalCtx[flags.TargetingKey] == nil {
		return nil, &ramp.Error{Kind: ramp.KindInvalid, Msg: "name a user (the targeting key)"}
	}
	if user != "" {
		evalCtx[flags.TargetingKey] = user
	}
	if region != "" {
		evalCtx[flags.RegionAttribute] = strings.ToUpper(region)
	}
	return evalCtx, nil
}

// doneMessage is the notice a page shows after an action redirected to it.
// Only known words are shown: the query string cannot put text on a page.
func doneMessage(r *http.Request) string {
	return map[string]string{
		"kill":     "Kill switch thrown: every context now gets the default variant.",
		"enable":   "Flag enabled: its rules decide again.",
		"advance":  "Rollout advanced.",
		"request":  "Stage requested: it waits for a second person's approval.",
		"pause":    "Rollout paused.",
		"resume":   "Rollout resumed.",
		"rollback": "Rolled back; the plan is paused.",
		"approve":  "Stage approved and started.",
	}[r.URL.Query().Get("done")]
}
