package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"io"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/store"
)

// Cohort is a cohort as the control plane shows it: its definition and
// member counts, never its member ids.
type Cohort struct {
	Key         string              `json:"key"`
	Description string              `json:"description,omitempty"`
	When        []cohorts.Condition `json:"when,omitempty"`
	// Members is how many members are listed.
	Members int `json:"members"`
	// ByRegion counts the listed members per home region ("(unknown)"
	// for those without one); only Service.Cohort fills it.
	ByRegion map[string]int `json:"membersByRegion,omitempty"`
	Version  int64          `json:"version"`
}

// UnknownRegion is the key ByRegion counts members without a region under.
const UnknownRegion = "(unknown)"

func cohortOf(c *cohorts.Cohort) Cohort {
	return Cohort{Key: c.Key, Description: c.Description, When: c.When, Members: c.MemberCount, Version: c.Version}
}

// Cohorts returns every cohort in key order with its member count. It
// reads counts only, whatever the size of the lists.
func (s *Service) Cohorts(ctx context.Context) ([]Cohort, error) {
	cs, err := s.db().Cohorts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Cohort, len(cs))
	for i := range cs {
		out[i] = cohortOf(&cs[i])
	}
	return out, nil
}

// Cohort returns one cohort with its member count per region, or an
// *UnknownCohortError (matching ramp.ErrNotFound) naming the closest
// existing key.
func (s *Service) Cohort(ctx context.Context, key string) (Cohort, error) {
	c, err := s.db().Cohort(ctx, key)
	if err != nil {
		return Cohort{}, s.unknownCohort(ctx, key, err)
	}
	counts, err := s.db().MemberRegionCounts(ctx, key)
	if err != nil {
		return Cohort{}, s.unknownCohort(ctx, key, err)
	}
	out := cohortOf(&c)
	out.ByRegion = make(map[string]int, len(counts))
	for r, n := range counts {
		name := string(r)
		if name == "" {
			name = UnknownRegion
		}
		out.ByRegion[name] = n
	}
	return out, nil
}

// MemberEdit is what an edit of a member list did: ids added, regions
// changed and ids unchanged counted apart, with the first ids of each
// change (the audit log records the same).
type MemberEdit = store.MemberEdit

// RegionChange is a listed member whose home region an edit changed.
type RegionChange = store.RegionChange

// AddMembersRequest asks to add users to a cohort's member list.
type AddMembersRequest struct {
	Cohort string
	// Members are the users to add, their regions as a person writes
	// them (cohorts.ParseMemberRegion): a country code or "country:XX".
	// A region group's name is refused: "NA" is North America in rules,
	// so Namibia is "country:NA". An empty region keeps a listed member's.
	Members []cohorts.Member
	// Create creates the cohort if it does not exist; without it an
	// unknown cohort is refused with the closest existing key.
	Create bool
}

// AddMembers adds users to a cohort's member list. A listed user given a
// region takes it, and the result reports that as a region change, apart
// from users added and users unchanged. The refusal of an unknown cohort
// (without Create) and the version check happen in the write's
// transaction.
func (s *Service) AddMembers(ctx context.Context, req AddMembersRequest) (MemberEdit, error) {
	if err := cohorts.ValidateKey(req.Cohort); err != nil {
		return MemberEdit{}, ramp.Errorf(ramp.KindInvalid, "cohort %w", err)
	}
	if len(req.Members) == 0 {
		return MemberEdit{}, ramp.Errorf(ramp.KindInvalid, "no users to add to cohort %q", req.Cohort)
	}
	members := make([]cohorts.Member, len(req.Members))
	for i, m := range req.Members {
		if err := cohorts.ValidateID(m.ID); err != nil {
			return MemberEdit{}, ramp.Errorf(ramp.KindInvalid, "%w", err)
		}
		members[i] = cohorts.Member{ID: m.ID}
		if m.Region == "" {
			continue
		}
		r, err := cohorts.ParseMemberRegion(string(m.Region))
		if err != nil {
			return MemberEdit{}, ramp.Errorf(ramp.KindInvalid, "user %q: %w", m.ID, err)
		}
		members[i].Region = r
	}
	res, err := s.db().AddMemberList(ctx, req.Cohort, members, req.Create, Actor(ctx))
	if err != nil {
		err = s.unknownCohort(ctx, req.Cohort, err)
		var unknown *UnknownCohortError
		if errors.As(err, &unknown) {
			unknown.NotCreated = true
		}
		return MemberEdit{}, err
	}
	return res, nil
}

// RemoveMembers removes users from a cohort's member list; users not
// listed count as unchanged.
func (s *Service) RemoveMembers(ctx context.Context, cohort string, ids []string) (MemberEdit, error) {
	if len(ids) == 0 {
		return MemberEdit{}, ramp.Errorf(ramp.KindInvalid, "no users to remove from cohort %q", cohort)
	}
	res, err := s.db().RemoveMemberList(ctx, cohort, ids, Actor(ctx))
	if err != nil {
		return MemberEdit{}, s.unknownCohort(ctx, cohort, err)
	}
	return res, nil
}

// ExportMembers writes a cohort's listed members to w as CSV with a header,
// user_id,region, sorted by id, streaming them from one consistent read:
// the file re-imports to the same list (a region that is also a group's
// name is written country:XX). It returns how many members it wrote.
func (s *Service) ExportMembers(ctx context.Context, cohort string, w io.Writer, opt ExportOptions) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csvfile.NewWriter(bw, csvfile.WriterOptions{Raw: opt.Raw})
	n := 0
	err := s.db().EachMember(ctx, cohort, func(m cohorts.Member) error {
		n++
		if err := cw.Write(m); err != nil {
			return &writeError{err}
		}
		return nil
	})
	if err == nil {
		if err = cw.Flush(); err == nil {
			err = bw.Flush()
		}
		if err != nil {
			err = &writeError{err}
		}
	}
	var we *writeError
	switch {
	case errors.As(err, &we):
		return n, fmt.Errorf("write members of cohort %q: %w", cohort, we.err)
	case err != nil:
		return n, s.unknownCohort(ctx, cohort, err)
	}
	return n, nil
}

// ExportOptions says how ExportMembers writes a list.
type ExportOptions struct {
	// Raw writes ids as they are; by default an id that a spreadsheet would
	// run as a formula is written behind a quote (csvfile.EscapeFormula),
	// which imports take off again.
	Raw bool
}

// writeError marks a failure of the export's writer, apart from the
// database's.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// UnknownCohortError reports a cohort that does not exist. It matches
// ramp.ErrNotFound.
type UnknownCohortError struct {
	Key string
	// Suggestion is the existing cohort whose key is closest to Key, if
	// one is close enough to be a misspelling of it.
	Suggestion string
	// NotCreated says the operation could have created the cohort had it
	// been asked to (an import, an addition): front-ends say how.
	NotCreated bool
}

// Error reads like `cohort "beta-tester" does not exist; did you mean
// "beta-testers"?`.
func (e *UnknownCohortError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cohort %q does not exist", e.Key)
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %q?", e.Suggestion)
	}
	return b.String()
}

// Is makes errors.Is(err, ramp.ErrNotFound) true.
func (e *UnknownCohortError) Is(target error) bool { return target == ramp.ErrNotFound }

// unknownCohort turns the store's not-found error about key into an
// *UnknownCohortError with a suggestion; other errors pass unchanged.
func (s *Service) unknownCohort(ctx context.Context, key string, err error) error {
	var nf *store.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "cohort" || nf.Key != key {
		return err
	}
	return s.unknownCohortError(ctx, key)
}

func (s *Service) unknownCohortError(ctx context.Context, key string) *UnknownCohortError {
	e := &UnknownCohortError{Key: key}
	if cs, err := s.db().Cohorts(ctx); err == nil {
		keys := make([]string, len(cs))
		for i, c := range cs {
			keys[i] = c.Key
		}
		e.Suggestion = closest(key, keys)
	}
	return e
}

// closest returns the key nearest to name by edit distance (insertions,
// deletions, substitutions and transpositions of adjacent letters, case
// ignored), if it is near enough to be a misspelling: at most 2 edits, or a
// third of name's length. Ties go to the first in keys' order.
func closest(name string, keys []string) string {
	best, bestD := "", -1
	limit := max(2, len([]rune(name))/3)
	for _, k := range keys {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// (Damerau–Levenshtein without repeated edits of a substring), by rune.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// Three rows of the table: i-2, i-1 and i.
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
