package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The gorm models below mirror the tables of migration 1; lists and values
// are JSON text, encoded and decoded explicitly in this file.

type flagRow struct {
	Key            string `gorm:"primaryKey"`
	Type           string
	Description    string
	Owner          string
	Tags           string // JSON []string
	Variants       string // JSON []flags.Variant, in declaration order
	DefaultVariant string
	Enabled        bool
	BucketBy       string
	Salt           string
	Bucketing      int
	Rules          string // JSON []flags.Rule
	Version        int64
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt      time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy      string
}

func (flagRow) TableName() string { return "flags" }

type cohortRow struct {
	Key         string `gorm:"primaryKey"`
	Description string
	Conditions  string // JSON []cohorts.Condition
	Version     int64
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy   string
	// MemberCount and RegionCounts (a JSON object, region to members)
	// count the member list; see counts.go.
	MemberCount  int64
	RegionCounts string
	// Gen is the generation of the member list that is listed (gen.go).
	Gen int64
}

func (cohortRow) TableName() string { return "cohorts" }

type memberRow struct {
	CohortKey string `gorm:"primaryKey"`
	UserID    string `gorm:"primaryKey"`
	Region    string // "" when unknown
	// AddedGen and RemovedGen are the generations that added the row and
	// removed it (nil: none has); see gen.go.
	AddedGen   int64 `gorm:"primaryKey"`
	RemovedGen *int64
}

func (memberRow) TableName() string { return "cohort_members" }

type auditRow struct {
	ID     int64 `gorm:"primaryKey"`
	At     time.Time
	Actor  string
	Action string
	Kind   string
	Target string
	Before *string // JSON, nil for creations
	After  *string // JSON, nil for deletions
}

func (auditRow) TableName() string { return "audit_log" }

// encodeFlag converts a flag to its row, normalising variant values. It
// leaves the version, times and author to the caller.
func encodeFlag(f *flags.Flag) (flagRow, error) {
	variants := make([]flags.Variant, len(f.Variants))
	for i, v := range f.Variants {
		nv, err := flags.NormalizeValue(f.Type, v.Value)
		if err != nil {
			return flagRow{}, fmt.Errorf("flag %q: variant %q: %w", f.Key, v.Key, err)
		}
		variants[i] = flags.Variant{Key: v.Key, Value: nv}
	}
	row := flagRow{
		Key:            f.Key,
		Type:           string(f.Type),
		Description:    f.Description,
		Owner:          f.Owner,
		DefaultVariant: f.DefaultVariant,
		Enabled:        f.Enabled,
		BucketBy:       f.BucketBy,
		Salt:           f.Salt,
		Bucketing:      int(f.Bucketing),
	}
	var err error
	if row.Tags, err = encodeJSON(f.Tags); err != nil {
		return flagRow{}, fmt.Errorf("flag %q: tags: %w", f.Key, err)
	}
	if row.Variants, err = encodeJSON(variants); err != nil {
		return flagRow{}, fmt.Errorf("flag %q: variants: %w", f.Key, err)
	}
	if row.Rules, err = encodeJSON(f.Rules); err != nil {
		return flagRow{}, fmt.Errorf("flag %q: rules: %w", f.Key, err)
	}
	return row, nil
}

func decodeFlag(row *flagRow) (flags.Flag, error) {
	f := flags.Flag{
		Key:            row.Key,
		Type:           flags.Type(row.Type),
		Description:    row.Description,
		Owner:          row.Owner,
		DefaultVariant: row.DefaultVariant,
		Enabled:        row.Enabled,
		BucketBy:       row.BucketBy,
		Salt:           row.Salt,
		Bucketing:      bucket.Version(row.Bucketing),
		Version:        row.Version,
	}
	if err := decodeJSON(row.Tags, &f.Tags); err != nil {
		return flags.Flag{}, fmt.Errorf("stored flag %q: tags: %w", row.Key, err)
	}
	if err := decodeJSON(row.Variants, &f.Variants); err != nil {
		return flags.Flag{}, fmt.Errorf("stored flag %q: variants: %w", row.Key, err)
	}
	for i, v := range f.Variants {
		nv, err := flags.NormalizeValue(f.Type, v.Value)
		if err != nil {
			return flags.Flag{}, fmt.Errorf("stored flag %q: variant %q: %w", row.Key, v.Key, err)
		}
		f.Variants[i].Value = nv
	}
	if err := decodeJSON(row.Rules, &f.Rules); err != nil {
		return flags.Flag{}, fmt.Errorf("stored flag %q: rules: %w", row.Key, err)
	}
	return f, nil
}

// encodeCohort converts a cohort, without its members, to its row.
func encodeCohort(c *cohorts.Cohort) (cohortRow, error) {
	conds, err := encodeJSON(c.When)
	if err != nil {
		return cohortRow{}, fmt.Errorf("cohort %q: conditions: %w", c.Key, err)
	}
	return cohortRow{Key: c.Key, Description: c.Description, Conditions: conds, RegionCounts: "{}"}, nil
}

func decodeCohort(row *cohortRow) (cohorts.Cohort, error) {
	c := cohorts.Cohort{Key: row.Key, Description: row.Description, Version: row.Version}
	if err := decodeJSON(row.Conditions, &c.When); err != nil {
		return cohorts.Cohort{}, fmt.Errorf("stored cohort %q: conditions: %w", row.Key, err)
	}
	return c, nil
}

// memberRows validates members and returns their rows, with regions in
// canonical form and each id once: a repeated id keeps its first position
// and the last region given for it.
func memberRows(cohortKey string, members []cohorts.Member) ([]memberRow, error) {
	rows := make([]memberRow, 0, len(members))
	seen := make(map[string]int, len(members))
	for i, m := range members {
		if err := cohorts.ValidateID(m.ID); err != nil {
			return nil, fmt.Errorf("members[%d]: %w", i, err)
		}
		var region cohorts.Region
		if m.Region != "" {
			r, err := cohorts.ParseRegion(string(m.Region))
			if err != nil {
				return nil, fmt.Errorf("members[%d] (%q): %w", i, m.ID, err)
			}
			region = r
		}
		if j, dup := seen[m.ID]; dup {
			if region != "" {
				rows[j].Region = string(region)
			}
			continue
		}
		seen[m.ID] = len(rows)
		rows = append(rows, memberRow{CohortKey: cohortKey, UserID: m.ID, Region: string(region)})
	}
	return rows, nil
}

// encodeJSON encodes a list, writing nil as an empty list.
func encodeJSON[T any](list []T) (string, error) {
	if list == nil {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// decodeJSON decodes a list, keeping numbers as json.Number, and leaves an
// empty list nil.
func decodeJSON[T any](data string, list *[]T) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(list); err != nil {
		return err
	}
	if len(*list) == 0 {
		*list = nil
	}
	return nil
}

// cohortAudit is how a cohort appears in the audit log: its members are
// summarised by their count, since lists may hold millions of ids.
type cohortAudit struct {
	Key         string              `json:"key"`
	Description string              `json:"description,omitempty"`
	When        []cohorts.Condition `json:"when,omitempty"`
	MemberCount int                 `json:"memberCount"`
}

func auditCohort(c *cohorts.Cohort) cohortAudit {
	return cohortAudit{Key: c.Key, Description: c.Description, When: c.When, MemberCount: c.MemberCount}
}
