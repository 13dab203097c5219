package cohorts_test

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ramp-flags/ramp/cohorts"
)

// missing marks a test case whose context lacks the attribute.
type missingAttr struct{}

var missing = missingAttr{}

func ctxWith(v any) map[string]any {
	if v == missing {
		return map[string]any{"other": "x"}
	}
	return map[string]any{"a": v}
}

func cond(op cohorts.Operator, values ...string) cohorts.Condition {
	return cohorts.Condition{Attribute: "a", Op: op, Values: values}
}

func mustCompile(t testing.TB, c cohorts.Condition) *cohorts.Matcher {
	t.Helper()
	m, err := c.Compile()
	if err != nil {
		t.Fatalf("Compile(%v): %v", c, err)
	}
	return m
}

var (
	deadline = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	aList    = []any{"x", "beta", 1.0}
	aStrList = []string{"x", "beta", "300"}
	anObject = map[string]any{"beta": true, "300": 300}
)

func TestConditionMatch(t *testing.T) {
	many := []string{"a", "b", "c", "d", "e", "f", "g", "h", "300", "true", "1.5"} // more than 8: the map path
	tests := []struct {
		cond cohorts.Condition
		attr any
		want bool
	}{
		// eq compares textual forms: strings as they are, numbers in their
		// canonical decimal form, booleans as true/false.
		{cond(cohorts.OpEq, "300"), "300", true},
		{cond(cohorts.OpEq, "300"), 300, true},
		{cond(cohorts.OpEq, "300"), int8(100), false},
		{cond(cohorts.OpEq, "300"), int16(300), true},
		{cond(cohorts.OpEq, "300"), int32(300), true},
		{cond(cohorts.OpEq, "300"), int64(300), true},
		{cond(cohorts.OpEq, "300"), uint(300), true},
		{cond(cohorts.OpEq, "300"), uint16(300), true},
		{cond(cohorts.OpEq, "300"), uint32(300), true},
		{cond(cohorts.OpEq, "300"), uint64(300), true},
		{cond(cohorts.OpEq, "300"), float32(300), true},
		{cond(cohorts.OpEq, "300"), float64(300), true},
		{cond(cohorts.OpEq, "300"), json.Number("300"), true},
		{cond(cohorts.OpEq, "300"), json.Number("300.0"), false}, // a json.Number keeps its text
		{cond(cohorts.OpEq, "300"), "300.0", false},
		{cond(cohorts.OpEq, "300"), " 300", false},
		{cond(cohorts.OpEq, "300"), 300.5, false},
		{cond(cohorts.OpEq, "300"), 301, false},
		{cond(cohorts.OpEq, "300"), true, false},
		{cond(cohorts.OpEq, "300"), []any{"300"}, false},
		{cond(cohorts.OpEq, "300"), []string{"300"}, false},
		{cond(cohorts.OpEq, "300"), map[string]any{"300": 1}, false},
		{cond(cohorts.OpEq, "300"), deadline, false},
		{cond(cohorts.OpEq, "300"), struct{}{}, false},
		{cond(cohorts.OpEq, "1.5"), 1.5, true},
		{cond(cohorts.OpEq, "1.5"), float32(1.5), true},
		{cond(cohorts.OpEq, "1.5"), json.Number("1.5"), true},
		{cond(cohorts.OpEq, "1.5"), "1.5", true},
		{cond(cohorts.OpEq, "1.5"), 1.50001, false},
		{cond(cohorts.OpEq, "0.30000000000000004"), 0.30000000000000004, true},
		{cond(cohorts.OpEq, "0.3"), 0.30000000000000004, false},
		{cond(cohorts.OpEq, "0"), math.Copysign(0, -1), true},
		{cond(cohorts.OpEq, "-7"), int8(-7), true},
		{cond(cohorts.OpEq, "-7"), -7.0, true},
		{cond(cohorts.OpEq, "9223372036854775807"), int64(math.MaxInt64), true},
		{cond(cohorts.OpEq, "-9223372036854775808"), int64(math.MinInt64), true},
		{cond(cohorts.OpEq, "18446744073709551615"), uint64(math.MaxUint64), true},
		// JSON numbers arrive as float64: an integral one below 2^53 is an
		// exact integer and reads as one.
		{cond(cohorts.OpEq, "1234567890123456"), 1234567890123456.0, true},
		{cond(cohorts.OpEq, "9007199254740991"), float64(1<<53 - 1), true},
		{cond(cohorts.OpEq, "1e+20"), 1e20, true},
		{cond(cohorts.OpEq, "true"), true, true},
		{cond(cohorts.OpEq, "true"), "true", true},
		{cond(cohorts.OpEq, "true"), false, false},
		{cond(cohorts.OpEq, "false"), false, true},
		{cond(cohorts.OpEq, "true"), "True", false},
		{cond(cohorts.OpEq, "ios"), "ios", true},
		{cond(cohorts.OpEq, "ios"), "iOS", false},
		{cond(cohorts.OpEq, ""), "", true},
		{cond(cohorts.OpEq, "ios", "android"), "android", true},
		{cond(cohorts.OpEq, many...), "300", true},
		{cond(cohorts.OpEq, many...), 300, true},
		{cond(cohorts.OpEq, many...), true, true},
		{cond(cohorts.OpEq, many...), 1.5, true},
		{cond(cohorts.OpEq, many...), json.Number("300"), true},
		{cond(cohorts.OpEq, many...), "h", true},
		{cond(cohorts.OpEq, many...), "z", false},
		{cond(cohorts.OpEq, many...), 301, false},
		{cond(cohorts.OpEq, many...), false, false},
		{cond(cohorts.OpEq, many...), []any{"a"}, false},

		// neq: present, readable, and equal to none of the values.
		{cond(cohorts.OpNeq, "300"), "301", true},
		{cond(cohorts.OpNeq, "300"), "300", false},
		{cond(cohorts.OpNeq, "300"), 300, false},
		{cond(cohorts.OpNeq, "300"), 300.0, false},
		{cond(cohorts.OpNeq, "300"), json.Number("300"), false},
		{cond(cohorts.OpNeq, "300"), 301, true},
		{cond(cohorts.OpNeq, "300"), true, true},
		{cond(cohorts.OpNeq, "300"), "", true},
		{cond(cohorts.OpNeq, "300"), []any{"1"}, false},
		{cond(cohorts.OpNeq, "300"), []string{"1"}, false},
		{cond(cohorts.OpNeq, "300"), map[string]any{}, false},
		{cond(cohorts.OpNeq, "300"), deadline, false},
		{cond(cohorts.OpNeq, many...), "z", true},
		{cond(cohorts.OpNeq, many...), "a", false},
		{cond(cohorts.OpNeq, many...), 300, false},
		{cond(cohorts.OpNeq, many...), []any{"z"}, false},

		{cond(cohorts.OpIn, "ios", "android"), "ios", true},
		{cond(cohorts.OpIn, "ios", "android"), "web", false},
		{cond(cohorts.OpIn, "1", "2", "3"), 2, true},
		{cond(cohorts.OpIn, "1", "2", "3"), 2.0, true},
		{cond(cohorts.OpIn, "1", "2", "3"), 2.5, false},
		{cond(cohorts.OpIn, "ios", "android"), []any{"ios"}, false},
		{cond(cohorts.OpIn, "ios", "android"), []string{"ios"}, false},
		{cond(cohorts.OpIn, many...), "g", true},

		{cond(cohorts.OpNotIn, "ios", "android"), "web", true},
		{cond(cohorts.OpNotIn, "ios", "android"), "ios", false},
		{cond(cohorts.OpNotIn, "1", "2"), 3, true},
		{cond(cohorts.OpNotIn, "1", "2"), 1.0, false},
		{cond(cohorts.OpNotIn, "1", "2"), false, true},
		{cond(cohorts.OpNotIn, "ios", "android"), []any{"web"}, false},
		{cond(cohorts.OpNotIn, "ios", "android"), []string{"web"}, false},
		{cond(cohorts.OpNotIn, "ios", "android"), map[string]any{"web": 1}, false},
		{cond(cohorts.OpNotIn, "ios", "android"), deadline, false},
		{cond(cohorts.OpNotIn, many...), "z", true},
		{cond(cohorts.OpNotIn, many...), "true", false},

		// contains: a substring of a string, or an element of a list.
		{cond(cohorts.OpContains, "beta"), "closed-beta", true},
		{cond(cohorts.OpContains, "beta"), "Beta", false},
		{cond(cohorts.OpContains, "beta", "alpha"), "alpha-1", true},
		{cond(cohorts.OpContains, "beta"), aList, true},
		{cond(cohorts.OpContains, "bet"), aList, false}, // list elements are compared whole
		{cond(cohorts.OpContains, "1"), aList, true},    // 1.0 reads as "1"
		{cond(cohorts.OpContains, "beta"), aStrList, true},
		{cond(cohorts.OpContains, "300"), aStrList, true},
		{cond(cohorts.OpContains, "bet"), aStrList, false},
		{cond(cohorts.OpContains, "x"), []any{nil, []any{"x"}, map[string]any{"x": 1}}, false},
		{cond(cohorts.OpContains, "x"), []any{nil, "x"}, true},
		{cond(cohorts.OpContains, "1"), []any{json.Number("1")}, true},
		{cond(cohorts.OpContains, "true"), []any{true}, true},
		{cond(cohorts.OpContains, "x"), []any{}, false},
		{cond(cohorts.OpContains, "x"), []string(nil), false},
		{cond(cohorts.OpContains, many...), []any{"h"}, true},
		{cond(cohorts.OpContains, many...), []any{300}, true},
		{cond(cohorts.OpContains, "3"), 300, false}, // numbers are not strings
		{cond(cohorts.OpContains, "t"), true, false},
		{cond(cohorts.OpContains, "beta"), anObject, false},
		{cond(cohorts.OpContains, "2026"), deadline, false},
		{cond(cohorts.OpContains, ""), "anything", true},

		{cond(cohorts.OpStartsWith, "emp-"), "emp-12", true},
		{cond(cohorts.OpStartsWith, "emp-"), "x-emp-12", false},
		{cond(cohorts.OpStartsWith, "emp-", "ext-"), "ext-1", true},
		{cond(cohorts.OpStartsWith, "1"), 12, false},
		{cond(cohorts.OpStartsWith, "emp"), []any{"emp-1"}, false},
		{cond(cohorts.OpStartsWith, "emp"), []string{"emp-1"}, false},
		{cond(cohorts.OpStartsWith, "t"), true, false},

		{cond(cohorts.OpEndsWith, "@acme.com"), "ann@acme.com", true},
		{cond(cohorts.OpEndsWith, "@acme.com"), "ann@acme.com.evil", false},
		{cond(cohorts.OpEndsWith, "@acme.com", "@acme.org"), "ann@acme.org", true},
		{cond(cohorts.OpEndsWith, "0"), 300, false},
		{cond(cohorts.OpEndsWith, "m"), []string{"acme.com"}, false},

		{cond(cohorts.OpMatches, `^emp-[0-9]+$`), "emp-12", true},
		{cond(cohorts.OpMatches, `^emp-[0-9]+$`), "emp-x", false},
		{cond(cohorts.OpMatches, `^emp-[0-9]+$`), "xemp-1", false},
		{cond(cohorts.OpMatches, `beta`), "closed-beta-1", true}, // unanchored
		{cond(cohorts.OpMatches, `(?i)^EMP`), "emp-1", true},
		{cond(cohorts.OpMatches, `^a$`, `^b$`), "b", true},
		{cond(cohorts.OpMatches, `^[0-9]+$`), 12, false},
		{cond(cohorts.OpMatches, `true`), true, false},
		{cond(cohorts.OpMatches, `.`), []any{"x"}, false},
		{cond(cohorts.OpMatches, `.*`), "", true},

		// lt, lte, gt, gte read numbers, and strings that hold a decimal number.
		{cond(cohorts.OpLt, "10"), 9, true},
		{cond(cohorts.OpLt, "10"), 10, false},
		{cond(cohorts.OpLt, "10"), 9.99, true},
		{cond(cohorts.OpLt, "10"), 10.0, false},
		{cond(cohorts.OpLt, "10"), int8(-128), true},
		{cond(cohorts.OpLt, "10"), int64(math.MinInt64), true},
		{cond(cohorts.OpLt, "10"), uint8(9), true},
		{cond(cohorts.OpLt, "10"), uint64(math.MaxUint64), false},
		{cond(cohorts.OpLt, "10"), float32(9.5), true},
		{cond(cohorts.OpLt, "10"), json.Number("9.5"), true},
		{cond(cohorts.OpLt, "10"), json.Number("1e1"), false},
		{cond(cohorts.OpLt, "10"), "9", true},
		{cond(cohorts.OpLt, "10"), " 9 ", true},
		{cond(cohorts.OpLt, "10"), "-1.5e-3", true},
		{cond(cohorts.OpLt, "10"), "10", false},
		{cond(cohorts.OpLt, "10"), "abc", false},
		{cond(cohorts.OpLt, "10"), "", false},
		{cond(cohorts.OpLt, "10"), "9abc", false},
		{cond(cohorts.OpLt, "10"), "1.2.3", false},
		{cond(cohorts.OpLt, "10"), "NaN", false},
		{cond(cohorts.OpLt, "10"), "-Inf", false},
		{cond(cohorts.OpLt, "10"), "0x1p-2", false},
		{cond(cohorts.OpLt, "10"), math.NaN(), false},
		{cond(cohorts.OpLt, "10"), math.Inf(-1), true},
		{cond(cohorts.OpLt, "10"), true, false},
		{cond(cohorts.OpLt, "10"), []any{1}, false},
		{cond(cohorts.OpLt, "10"), []string{"1"}, false},
		{cond(cohorts.OpLt, "10"), map[string]any{"a": 1}, false},
		{cond(cohorts.OpLt, "10"), deadline, false},
		{cond(cohorts.OpLte, "10"), 10, true},
		{cond(cohorts.OpLte, "10"), "10.0", true},
		{cond(cohorts.OpLte, "10"), 10.000001, false},
		{cond(cohorts.OpLte, "10"), json.Number("10"), true},
		{cond(cohorts.OpLte, "10"), false, false},
		{cond(cohorts.OpGt, "-1.5"), -1, true},
		{cond(cohorts.OpGt, "-1.5"), -1.5, false},
		{cond(cohorts.OpGt, "-1.5"), -2, false},
		{cond(cohorts.OpGt, "-1.5"), "0", true},
		{cond(cohorts.OpGt, "-1.5"), math.Inf(1), true},
		{cond(cohorts.OpGt, "-1.5"), "Inf", false},
		{cond(cohorts.OpGt, "-1.5"), "+1", true},
		{cond(cohorts.OpGt, "-1.5"), ".5", true},
		{cond(cohorts.OpGt, "-1.5"), "5.", true},
		{cond(cohorts.OpGt, "-1.5"), ".", false},
		{cond(cohorts.OpGt, "-1.5"), "-", false},
		{cond(cohorts.OpGt, "-1.5"), "1e", false},
		{cond(cohorts.OpGt, "-1.5"), "1e400", false}, // out of range
		{cond(cohorts.OpGt, "-1.5"), "1_0", false},
		{cond(cohorts.OpGte, "300"), 300, true},
		{cond(cohorts.OpGte, "300"), json.Number("299.999"), false},
		{cond(cohorts.OpGte, "300"), "3e2", true},
		{cond(cohorts.OpGte, "300"), uint(301), true},
		{cond(cohorts.OpGte, "1e3"), 1000, true},
		{cond(cohorts.OpGte, "Inf"), math.Inf(1), true},

		// semver_* read strings holding a semantic version.
		{cond(cohorts.OpSemverGte, "300.0.0"), "300.0.0", true},
		{cond(cohorts.OpSemverGte, "300.0.0"), "v300.1", true},
		{cond(cohorts.OpSemverGte, "300.0.0"), "301", true},
		{cond(cohorts.OpSemverGte, "300.0.0"), "1000.0.0", true}, // not compared as text
		{cond(cohorts.OpSemverGte, "300.0.0"), "299.99.99", false},
		{cond(cohorts.OpSemverGte, "300.0.0"), "300.0.0-rc.1", false},
		{cond(cohorts.OpSemverGte, "300.0.0"), "300.0.0+build.7", true},
		{cond(cohorts.OpSemverGte, "300.0.0"), "abc", false},
		{cond(cohorts.OpSemverGte, "300.0.0"), "", false},
		{cond(cohorts.OpSemverGte, "300.0.0"), " 300.0.0", false},
		{cond(cohorts.OpSemverGte, "300.0.0"), 300, false},
		{cond(cohorts.OpSemverGte, "300.0.0"), 300.0, false},
		{cond(cohorts.OpSemverGte, "300.0.0"), json.Number("300"), false},
		{cond(cohorts.OpSemverGte, "300.0.0"), true, false},
		{cond(cohorts.OpSemverGte, "300.0.0"), []any{"300.0.0"}, false},
		{cond(cohorts.OpSemverGte, "300.0.0"), []string{"300.0.0"}, false},
		{cond(cohorts.OpSemverGte, "300.0.0"), deadline, false},
		{cond(cohorts.OpSemverLt, "2.0.0"), "1.9.9", true},
		{cond(cohorts.OpSemverLt, "2.0.0"), "2.0.0-beta", true},
		{cond(cohorts.OpSemverLt, "2.0.0"), "2.0.0", false},
		{cond(cohorts.OpSemverLt, "2.0.0"), "10.0.0", false},
		{cond(cohorts.OpSemverLte, "2.0.0"), "2.0.0+build", true},
		{cond(cohorts.OpSemverLte, "2.0.0"), "2.0.1", false},
		{cond(cohorts.OpSemverGt, "2.0.0"), "2.0.1", true},
		{cond(cohorts.OpSemverGt, "2.0.0"), "2.0.0", false},
		{cond(cohorts.OpSemverGt, "1.0.0-beta.2"), "1.0.0-beta.11", true},
		{cond(cohorts.OpSemverGt, "1.0.0-rc.1"), "1.0.0-beta.11", false},
		{cond(cohorts.OpSemverEq, "1.2.3"), "v1.2.3+b", true},
		{cond(cohorts.OpSemverEq, "1.2"), "1.2.0", true},
		{cond(cohorts.OpSemverEq, "1.2.3"), "1.2", false},
		{cond(cohorts.OpSemverEq, "1.2.3"), "1.2.3-rc", false},

		// exists: present and not null, whatever the type.
		{cond(cohorts.OpExists), "x", true},
		{cond(cohorts.OpExists), "", true},
		{cond(cohorts.OpExists), 0, true},
		{cond(cohorts.OpExists), 0.0, true},
		{cond(cohorts.OpExists), false, true},
		{cond(cohorts.OpExists), json.Number("0"), true},
		{cond(cohorts.OpExists), []any{}, true},
		{cond(cohorts.OpExists), []string{}, true},
		{cond(cohorts.OpExists), map[string]any{}, true},
		{cond(cohorts.OpExists), deadline, true},

		// before and after read RFC 3339 strings and time.Time values.
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T23:59:59Z", true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T23:59:59.999999999Z", true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2026-01-01T00:00:00Z", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2026-01-01T01:00:00+02:00", true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2026-01-01T00:30:00+00:30", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T19:00:00-04:59", true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T23:00:00-01:00", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), deadline.Add(-time.Nanosecond), true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), deadline, false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), deadline.In(time.FixedZone("X", 3600)).Add(-time.Second), true},
		{cond(cohorts.OpBefore, "2026-01-01T02:00:00+02:00"), "2025-12-31T23:59:59Z", true},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T23:59:59", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-02-29T00:00:00Z", false}, // no such day
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-13-01T00:00:00Z", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T24:00:00Z", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2025-12-31T23:59:59+24:00", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "2024-02-29T00:00:00Z", true}, // a leap day
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "garbage", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), "", false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), 1767225599, false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), 1.7e9, false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), true, false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), []any{"2025-01-01T00:00:00Z"}, false},
		{cond(cohorts.OpBefore, "2026-01-01T00:00:00Z"), []string{"2025-01-01T00:00:00Z"}, false},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "2026-01-01T00:00:00.000000001Z", true},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "2026-01-01T00:00:00Z", false},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "2025-12-31T19:00:01-05:00", true},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "2026-01-01T05:29:59+05:30", false},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), deadline.Add(time.Second), true},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), time.Time{}, false},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "9999-12-31T23:59:59Z", true},
		{cond(cohorts.OpAfter, "2026-01-01T00:00:00Z"), "0000-01-01T00:00:00Z", false},
	}
	for _, tt := range tests {
		m := mustCompile(t, tt.cond)
		if got := m.Match(ctxWith(tt.attr)); got != tt.want {
			t.Errorf("%v on %T(%v): Match = %v, want %v", tt.cond, tt.attr, tt.attr, got, tt.want)
		}
	}
}

// validConditions returns, for every operator, a condition that compiles.
func validConditions() []cohorts.Condition {
	values := map[cohorts.Operator][]string{
		cohorts.OpMatches: {".*"},
		cohorts.OpLt:      {"1e300"}, cohorts.OpLte: {"1e300"}, cohorts.OpGt: {"-1e300"}, cohorts.OpGte: {"-1e300"},
		cohorts.OpSemverLt: {"999.0.0"}, cohorts.OpSemverLte: {"999.0.0"}, cohorts.OpSemverGt: {"0.0.0-0"},
		cohorts.OpSemverGte: {"0.0.0-0"}, cohorts.OpSemverEq: {"1.0.0"},
		cohorts.OpExists: nil,
		cohorts.OpBefore: {"9999-12-31T23:59:59Z"}, cohorts.OpAfter: {"0000-01-01T00:00:00Z"},
	}
	var out []cohorts.Condition
	for _, op := range cohorts.Operators {
		v, ok := values[op]
		if !ok {
			v = []string{"", "x", "1", "true"}
		}
		out = append(out, cond(op, v...))
	}
	return out
}

// A condition on a missing or null attribute is false, whatever the operator:
// neq and not_in included, and conditions that would hold for any value.
func TestConditionMissingOrNull(t *testing.T) {
	for _, c := range validConditions() {
		m := mustCompile(t, c)
		for name, ctx := range map[string]map[string]any{
			"missing":     {"b": "x"},
			"null":        {"a": nil},
			"nil context": nil,
			"empty":       {},
		} {
			if m.Match(ctx) {
				t.Errorf("%v: Match(%s) = true, want false", c, name)
			}
		}
	}
}

func TestConditionEqAndNeqAreComplements(t *testing.T) {
	scalars := []any{"300", 300, int64(-1), uint8(7), 1.5, 300.0, float32(0.25), json.Number("300"), true, false, ""}
	others := []any{[]any{"300"}, []string{"300"}, map[string]any{}, deadline, struct{}{}}
	for _, values := range [][]string{{"300"}, {"1.5", "true"}, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "300", "false"}} {
		for _, pair := range [][2]cohorts.Operator{{cohorts.OpEq, cohorts.OpNeq}, {cohorts.OpIn, cohorts.OpNotIn}} {
			pos, neg := mustCompile(t, cond(pair[0], values...)), mustCompile(t, cond(pair[1], values...))
			for _, v := range scalars {
				if p, n := pos.Match(ctxWith(v)), neg.Match(ctxWith(v)); p == n {
					t.Errorf("%s and %s %v on %T(%v): both %v, want exactly one true", pair[0], pair[1], values, v, v, p)
				}
			}
			// Values the operators cannot read match neither.
			for _, v := range others {
				if p, n := pos.Match(ctxWith(v)), neg.Match(ctxWith(v)); p || n {
					t.Errorf("%s / %s %v on %T: %v / %v, want false / false", pair[0], pair[1], values, v, p, n)
				}
			}
		}
	}
}

func TestConditionCompileErrors(t *testing.T) {
	tests := []cohorts.Condition{
		{Attribute: "", Op: cohorts.OpEq, Values: []string{"x"}},
		{Attribute: "  ", Op: cohorts.OpEq, Values: []string{"x"}},
		{Attribute: "a", Op: "", Values: []string{"x"}},
		{Attribute: "a", Op: "like", Values: []string{"x"}},
		{Attribute: "a", Op: "EQ", Values: []string{"x"}},
		cond(cohorts.OpEq),
		cond(cohorts.OpNeq),
		cond(cohorts.OpIn),
		cond(cohorts.OpNotIn),
		cond(cohorts.OpContains),
		cond(cohorts.OpStartsWith),
		cond(cohorts.OpEndsWith),
		cond(cohorts.OpMatches),
		cond(cohorts.OpMatches, "("),
		cond(cohorts.OpMatches, "ok", "[z-a]"),
		cond(cohorts.OpMatches, `a**`),
		cond(cohorts.OpLt),
		cond(cohorts.OpLt, "1", "2"),
		cond(cohorts.OpLt, "abc"),
		cond(cohorts.OpLte, ""),
		cond(cohorts.OpGt, "NaN"),
		cond(cohorts.OpGte, "1.2.3"),
		cond(cohorts.OpSemverLt),
		cond(cohorts.OpSemverLte, "1.0.0", "2.0.0"),
		cond(cohorts.OpSemverGt, "x"),
		cond(cohorts.OpSemverGte, "1..2"),
		cond(cohorts.OpSemverEq, "1.2.3-"),
		cond(cohorts.OpSemverEq, ""),
		cond(cohorts.OpExists, "x"),
		cond(cohorts.OpExists, ""),
		cond(cohorts.OpBefore),
		cond(cohorts.OpBefore, "2026-01-01"),
		cond(cohorts.OpBefore, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
		cond(cohorts.OpAfter, "yesterday"),
		cond(cohorts.OpAfter, "2026-02-30T00:00:00Z"),
		cond(cohorts.OpAfter, "2026-01-01 00:00:00Z"),
	}
	for _, c := range tests {
		if m, err := c.Compile(); err == nil {
			t.Errorf("Compile(%#v) = %v, nil; want an error", c, m)
		}
	}
}

func TestConditionCompileTrimsParsedValues(t *testing.T) {
	tests := []struct {
		cond cohorts.Condition
		attr any
	}{
		{cond(cohorts.OpLt, " 10 "), 9},
		{cond(cohorts.OpGte, "1e3"), 1000},
		{cond(cohorts.OpSemverGte, " v1.2.3 "), "1.2.3"},
		{cond(cohorts.OpBefore, " 2026-01-01T00:00:00Z "), "2025-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if m := mustCompile(t, tt.cond); !m.Match(ctxWith(tt.attr)) {
			t.Errorf("%v on %v: Match = false, want true", tt.cond, tt.attr)
		}
	}
}

func TestConditionString(t *testing.T) {
	tests := []struct {
		cond cohorts.Condition
		want string
	}{
		{cohorts.Condition{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}, "appVersion semver_gte 300.0.0"},
		{cohorts.Condition{Attribute: "platform", Op: cohorts.OpIn, Values: []string{"ios", "android"}}, "platform in ios, android"},
		{cohorts.Condition{Attribute: "email", Op: cohorts.OpExists}, "email exists"},
	}
	for _, tt := range tests {
		if got := tt.cond.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// A Matcher is immutable: changing the values the condition was compiled from,
// or the condition Matcher.Condition returns, does not change what it matches.
func TestMatcherIsImmutable(t *testing.T) {
	for _, n := range []int{2, 12} { // the list path and the map path
		values := make([]string, n)
		for i := range values {
			values[i] = "v" + strconv.Itoa(i)
		}
		c := cond(cohorts.OpIn, values...)
		m := mustCompile(t, c)
		values[0] = "changed"
		m.Condition().Values[1] = "changed too"
		if !m.Match(ctxWith("v0")) || !m.Match(ctxWith("v1")) || m.Match(ctxWith("changed")) {
			t.Errorf("%d values: the matcher changed with the slice it was compiled from", n)
		}
		if diff := cmp.Diff(c, m.Condition()); diff == "" {
			t.Errorf("%d values: Condition() reflects a change made after Compile", n)
		}
		if got := m.Condition().Values[0]; got != "v0" {
			t.Errorf("%d values: Condition().Values[0] = %q, want v0", n, got)
		}
	}
}

func TestMatcherConcurrentUse(t *testing.T) {
	ms := make([]*cohorts.Matcher, 0, len(validConditions()))
	for _, c := range validConditions() {
		ms = append(ms, mustCompile(t, c))
	}
	attrs := []any{"x", "1.2.3", "2026-01-01T00:00:00Z", 5, 1.5, true, []any{"x"}, nil}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ctx := ctxWith(attrs[(g+i)%len(attrs)])
				for _, m := range ms {
					m.Match(ctx)
				}
			}
		})
	}
	wg.Wait()
}

// Match must not allocate on string, number and boolean attributes, whatever
// the operator and whether or not the value is one the operator can read.
func TestConditionMatchDoesNotAllocate(t *testing.T) {
	attrs := []any{
		"abc", "", "300", "12.5", "1e300", "1.2.3", "v300.1.0-rc.1+b", "emp-12", "2025-06-01T12:00:00Z",
		"2025-06-01T12:00:00.123456789-07:30", "2025-06-01T12:00:00+05:45", "2025-02-30T00:00:00Z",
		strings.Repeat("x", 100), 300, int8(-1), int64(math.MaxInt64), uint64(math.MaxUint64), 1.5, 300.0,
		1e20, math.Copysign(0, -1), float32(2.5), json.Number("300"), json.Number("1.5"), true, false,
	}
	conds := validConditions()
	conds = append(conds, cond(cohorts.OpIn, "a", "b", "c", "d", "e", "f", "g", "h", "i", "300"))
	conds = append(conds, cond(cohorts.OpNotIn, "a", "b", "c", "d", "e", "f", "g", "h", "i", "300"))
	for _, c := range conds {
		if c.Op == cohorts.OpMatches && raceEnabled {
			continue // regexp keeps its machines in a sync.Pool, which the race detector drains
		}
		m := mustCompile(t, c)
		for _, a := range attrs {
			ctx := ctxWith(a)
			if n := testing.AllocsPerRun(100, func() { m.Match(ctx) }); n != 0 {
				t.Errorf("%v on %T(%v): %v allocations per Match, want 0", c, a, a, n)
			}
		}
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		in     any
		want   string
		scalar bool
	}{
		{"x", "x", true},
		{true, "true", true},
		{false, "false", true},
		{-12, "-12", true},
		{int8(-128), "-128", true},
		{int16(1), "1", true},
		{int32(1), "1", true},
		{int64(math.MinInt64), "-9223372036854775808", true},
		{uint(1), "1", true},
		{uint8(255), "255", true},
		{uint16(1), "1", true},
		{uint32(1), "1", true},
		{uint64(math.MaxUint64), "18446744073709551615", true},
		{300.0, "300", true},
		{math.Copysign(0, -1), "0", true},
		{1.5, "1.5", true},
		{0.1, "0.1", true},
		{float32(0.1), "0.1", true},
		{1234567890123456.0, "1234567890123456", true},
		{float64(1 << 53), "9.007199254740992e+15", true},
		{1e20, "1e+20", true},
		{math.Inf(1), "+Inf", true},
		{json.Number("1.50"), "1.50", true},
		{nil, "", false},
		{[]any{1}, "", false},
		{[]string{"a"}, "", false},
		{map[string]any{}, "", false},
		{deadline, "", false},
	}
	for _, tt := range tests {
		got, ok := cohorts.AppendText([]byte("pre:"), tt.in)
		if ok != tt.scalar || string(got) != "pre:"+tt.want {
			t.Errorf("AppendText(%T(%v)) = %q, %v; want %q, %v", tt.in, tt.in, got, ok, "pre:"+tt.want, tt.scalar)
		}
	}
}

func FuzzConditionMatch(f *testing.F) {
	for _, op := range cohorts.Operators {
		f.Add(string(op), "300", "", "300")
	}
	f.Add("eq", "1.5", "true", "1.5")
	f.Add("matches", "^a(b|c)*$", "", "abcbc")
	f.Add("semver_gte", "1.0.0-rc.1", "", "1.0.0-beta.11")
	f.Add("before", "2026-01-01T00:00:00Z", "", "2025-12-31T23:59:59.5+01:30")
	f.Add("lt", "1e3", "", "999.5")
	f.Add("in", "a", "b", "a")
	f.Add("nope", "", "", "")
	f.Fuzz(func(t *testing.T, op, v1, v2, attr string) {
		var values []string
		if v1 != "" || v2 != "" {
			values = append(values, v1)
		}
		if v2 != "" {
			values = append(values, v2)
		}
		c := cohorts.Condition{Attribute: "a", Op: cohorts.Operator(op), Values: values}
		m, err := c.Compile()
		if err != nil {
			if m != nil {
				t.Fatalf("Compile(%#v) returned a matcher and an error", c)
			}
			return
		}
		attrs := []any{attr, []any{attr, nil}, []string{attr}, map[string]any{attr: attr}, json.Number(attr)}
		if f, err := strconv.ParseFloat(attr, 64); err == nil {
			attrs = append(attrs, f, float32(f), int64(f))
		}
		if i, err := strconv.ParseInt(attr, 10, 64); err == nil {
			attrs = append(attrs, i, int(i), uint64(i))
		}
		if b, err := strconv.ParseBool(attr); err == nil {
			attrs = append(attrs, b)
		}
		if ts, err := time.Parse(time.RFC3339Nano, attr); err == nil {
			attrs = append(attrs, ts)
		}
		for _, a := range attrs {
			m.Match(map[string]any{"a": a}) // must not panic
		}
		if m.Match(map[string]any{"a": nil}) || m.Match(map[string]any{"b": attr}) || m.Match(nil) {
			t.Fatalf("%v matches a missing or null attribute", c)
		}
		got := m.Match(map[string]any{"a": attr})
		switch c.Op {
		case cohorts.OpExists:
			if !got {
				t.Fatalf("exists: false on %q", attr)
			}
		case cohorts.OpEq, cohorts.OpIn:
			if want := attr == v1 || len(values) == 2 && attr == v2; got != want {
				t.Fatalf("%v on %q = %v, want %v", c, attr, got, want)
			}
		case cohorts.OpNeq, cohorts.OpNotIn:
			if want := attr != v1 && (len(values) < 2 || attr != v2); got != want {
				t.Fatalf("%v on %q = %v, want %v", c, attr, got, want)
			}
		case cohorts.OpContains:
			if want := strings.Contains(attr, v1) || len(values) == 2 && strings.Contains(attr, v2); got != want {
				t.Fatalf("%v on %q = %v, want %v", c, attr, got, want)
			}
		case cohorts.OpSemverEq, cohorts.OpSemverGte, cohorts.OpSemverLte:
			// A version is equal to itself, whichever way it is written.
			if strings.TrimSpace(v1) == attr && !got {
				t.Fatalf("%v on %q = false, want true", c, attr)
			}
		}
	})
}

func BenchmarkConditionMatch(b *testing.B) {
	many := make([]string, 50)
	for i := range many {
		many[i] = "plan-" + strconv.Itoa(i)
	}
	benches := []struct {
		name string
		cond cohorts.Condition
		attr any
	}{
		{"semver_gte", cond(cohorts.OpSemverGte, "300.0.0"), "301.2.0-rc.1+build.7"},
		{"in/3/string", cond(cohorts.OpIn, "ios", "android", "web"), "web"},
		{"in/3/number", cond(cohorts.OpIn, "1", "2", "300"), 300.0},
		{"in/50/string", cond(cohorts.OpIn, many...), "plan-49"},
		{"in/50/miss", cond(cohorts.OpIn, many...), "plan-x"},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			m := mustCompile(b, bb.cond)
			ctx := map[string]any{"a": bb.attr, "country": "FR", "targetingKey": "user-1"}
			b.ReportAllocs()
			for b.Loop() {
				m.Match(ctx)
			}
		})
	}
}
