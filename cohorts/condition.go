package cohorts

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Operator names the test a Condition applies to a context attribute.
type Operator string

// The operators a Condition may use.
const (
	OpEq         Operator = "eq"          // equal to one of the values
	OpNeq        Operator = "neq"         // present and equal to none of the values
	OpIn         Operator = "in"          // same as eq, for lists
	OpNotIn      Operator = "not_in"      // same as neq, for lists
	OpContains   Operator = "contains"    // a string containing a value, or a list holding one
	OpStartsWith Operator = "starts_with" // a string starting with one of the values
	OpEndsWith   Operator = "ends_with"   // a string ending with one of the values
	OpMatches    Operator = "matches"     // a string matching one of the regular expressions (RE2 syntax)
	OpLt         Operator = "lt"          // a number below the value
	OpLte        Operator = "lte"         // a number at most the value
	OpGt         Operator = "gt"          // a number above the value
	OpGte        Operator = "gte"         // a number at least the value
	OpSemverLt   Operator = "semver_lt"   // a semantic version below the value
	OpSemverLte  Operator = "semver_lte"  // a semantic version at most the value
	OpSemverGt   Operator = "semver_gt"   // a semantic version above the value
	OpSemverGte  Operator = "semver_gte"  // a semantic version at least the value
	OpSemverEq   Operator = "semver_eq"   // a semantic version of equal precedence
	OpExists     Operator = "exists"      // the attribute is present and not null
	OpBefore     Operator = "before"      // an RFC 3339 time before the value
	OpAfter      Operator = "after"       // an RFC 3339 time after the value
)

// Operators lists every operator in documentation order.
var Operators = []Operator{
	OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpStartsWith, OpEndsWith, OpMatches,
	OpLt, OpLte, OpGt, OpGte, OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte, OpSemverEq,
	OpExists, OpBefore, OpAfter,
}

// Condition is a test on one attribute of an evaluation context. Values are
// kept in their textual form; numbers, versions and times are parsed when the
// condition is compiled. A condition on a missing attribute is false, whatever
// the operator.
type Condition struct {
	Attribute string   `json:"attribute"`
	Op        Operator `json:"op"`
	Values    []string `json:"values,omitempty"`
}

// String renders the condition for people, e.g. `appVersion semver_gte 300.0.0`.
func (c Condition) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Attribute, c.Op, strings.Join(c.Values, ", ")))
}

// Matcher is a compiled Condition. It is immutable and safe for concurrent use.
type Matcher struct {
	cond  Condition
	strs  []string
	set   map[string]struct{}
	nums  []float64
	vers  []semver
	times []time.Time
	res   []*regexp.Regexp
}

// Compile validates a condition and prepares it for evaluation: regular
// expressions are compiled, numbers, versions and times parsed once.
func (c Condition) Compile() (*Matcher, error) {
	if strings.TrimSpace(c.Attribute) == "" {
		return nil, fmt.Errorf("attribute is required")
	}
	// The matcher keeps its own copy: it must not change, nor race, when the
	// caller reuses the slice it compiled from.
	c.Values = slices.Clone(c.Values)
	m := &Matcher{cond: c}
	one := func() error {
		if len(c.Values) != 1 {
			return fmt.Errorf("operator %s takes exactly one value, got %d", c.Op, len(c.Values))
		}
		return nil
	}
	some := func() error {
		if len(c.Values) == 0 {
			return fmt.Errorf("operator %s needs at least one value", c.Op)
		}
		return nil
	}
	switch c.Op {
	case OpEq, OpNeq, OpIn, OpNotIn:
		if err := some(); err != nil {
			return nil, err
		}
		m.strs = c.Values
		if len(c.Values) > 8 {
			m.set = make(map[string]struct{}, len(c.Values))
			for _, v := range c.Values {
				m.set[v] = struct{}{}
			}
		}
	case OpContains, OpStartsWith, OpEndsWith:
		if err := some(); err != nil {
			return nil, err
		}
		m.strs = c.Values
	case OpMatches:
		if err := some(); err != nil {
			return nil, err
		}
		for _, v := range c.Values {
			re, err := regexp.Compile(v)
			if err != nil {
				return nil, fmt.Errorf("invalid regular expression %q: %v", v, err)
			}
			m.res = append(m.res, re)
		}
	case OpLt, OpLte, OpGt, OpGte:
		if err := one(); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(c.Values[0]), 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("operator %s needs a number, got %q", c.Op, c.Values[0])
		}
		m.nums = []float64{f}
	case OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte, OpSemverEq:
		if err := one(); err != nil {
			return nil, err
		}
		v, ok := parseSemver(strings.TrimSpace(c.Values[0]))
		if !ok {
			return nil, fmt.Errorf("operator %s needs a semantic version such as 300.0.0, got %q", c.Op, c.Values[0])
		}
		m.vers = []semver{v}
	case OpExists:
		if len(c.Values) != 0 {
			return nil, fmt.Errorf("operator exists takes no values")
		}
	case OpBefore, OpAfter:
		if err := one(); err != nil {
			return nil, err
		}
		t, ok := parseTime(strings.TrimSpace(c.Values[0]))
		if !ok {
			return nil, fmt.Errorf("operator %s needs an RFC 3339 time such as 2026-01-31T00:00:00Z, got %q", c.Op, c.Values[0])
		}
		m.times = []time.Time{t}
	case "":
		return nil, fmt.Errorf("op is required")
	default:
		return nil, fmt.Errorf("unknown operator %q (want one of %s)", c.Op, operatorList())
	}
	return m, nil
}

func operatorList() string {
	s := make([]string, len(Operators))
	for i, o := range Operators {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// Condition returns a copy of the condition the matcher was compiled from.
func (m *Matcher) Condition() Condition {
	c := m.cond
	c.Values = slices.Clone(c.Values)
	return c
}

// Match reports whether the context satisfies the condition. A missing or
// null attribute never matches; an attribute of a kind the operator cannot
// read (a list for lt or neq, a malformed version for semver_gte) does not
// match either. Match never panics and, for strings, numbers and booleans,
// does not allocate (save for a numeric string beyond the float64 range).
func (m *Matcher) Match(ctx map[string]any) bool {
	v, ok := ctx[m.cond.Attribute]
	if !ok || v == nil {
		return false
	}
	switch m.cond.Op {
	case OpExists:
		return true
	case OpEq, OpIn:
		hit, _ := m.equalsAny(v)
		return hit
	case OpNeq, OpNotIn:
		hit, scalar := m.equalsAny(v)
		return scalar && !hit
	case OpContains:
		if list, ok := v.([]any); ok {
			for _, e := range list {
				if hit, _ := m.equalsAny(e); hit {
					return true
				}
			}
			return false
		}
		if list, ok := v.([]string); ok {
			for _, e := range list {
				if m.hasString(e) {
					return true
				}
			}
			return false
		}
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, x := range m.strs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	case OpStartsWith, OpEndsWith:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, x := range m.strs {
			if m.cond.Op == OpStartsWith && strings.HasPrefix(s, x) || m.cond.Op == OpEndsWith && strings.HasSuffix(s, x) {
				return true
			}
		}
		return false
	case OpMatches:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, re := range m.res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	case OpLt, OpLte, OpGt, OpGte:
		f, ok := toFloat(v)
		if !ok {
			return false
		}
		want := m.nums[0]
		switch m.cond.Op {
		case OpLt:
			return f < want
		case OpLte:
			return f <= want
		case OpGt:
			return f > want
		default:
			return f >= want
		}
	case OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte, OpSemverEq:
		s, ok := v.(string)
		if !ok {
			return false
		}
		got, ok := parseSemver(s)
		if !ok {
			return false
		}
		c := compareSemver(got, m.vers[0])
		switch m.cond.Op {
		case OpSemverLt:
			return c < 0
		case OpSemverLte:
			return c <= 0
		case OpSemverGt:
			return c > 0
		case OpSemverGte:
			return c >= 0
		default:
			return c == 0
		}
	case OpBefore, OpAfter:
		t, ok := toTime(v)
		if !ok {
			return false
		}
		if m.cond.Op == OpBefore {
			return t.Before(m.times[0])
		}
		return t.After(m.times[0])
	}
	return false
}

// equalsAny compares the attribute's textual form with the values. scalar
// reports whether v has a textual form (see AppendText); if not, hit is false.
func (m *Matcher) equalsAny(v any) (hit, scalar bool) {
	if s, ok := v.(string); ok {
		return m.hasString(s), true
	}
	var buf [32]byte
	b, ok := AppendText(buf[:0], v)
	if !ok {
		return false, false
	}
	if m.set != nil {
		_, hit := m.set[string(b)] // no allocation: the compiler reads b in place
		return hit, true
	}
	for _, x := range m.strs {
		if string(b) == x {
			return true, true
		}
	}
	return false, true
}

func (m *Matcher) hasString(s string) bool {
	if m.set != nil {
		_, hit := m.set[s]
		return hit
	}
	for _, x := range m.strs {
		if s == x {
			return true
		}
	}
	return false
}

// AppendText appends the canonical textual form of a scalar attribute value
// (a string as is, true/false, integers in decimal, floating-point numbers
// that hold an exact integer below 2^53 in decimal too, other numbers in the
// shortest form that reads back exactly, a json.Number as written) and
// reports whether v was a scalar. Lists, objects, times and nil are not
// scalars.
func AppendText(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return append(dst, x...), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case float32:
		return appendFloat(dst, float64(x), 32), true
	case float64:
		return appendFloat(dst, x, 64), true
	case json.Number:
		return append(dst, x...), true
	}
	return dst, false
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	// Below 2^53 every integer is exact, so a JSON number such as
	// 1234567890123456, decoded as float64, reads back as written.
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsNaN(f)
	case string:
		s := strings.TrimSpace(x)
		if !isDecimal(s) {
			return 0, false // checked first: ParseFloat allocates its error
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

// isDecimal reports whether s is a decimal number: an optional sign, digits
// with an optional decimal point, and an optional exponent, as in 12, -1.5,
// .5 or 6.02e23. Hexadecimal forms, underscores, Inf and NaN are not.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return parseTime(x)
	}
	return time.Time{}, false
}

// parseTime reads an RFC 3339 time such as 2026-01-31T00:00:00Z or
// 2026-01-31T09:30:00.25+05:30 and returns it in UTC. Unlike time.Parse it
// does not allocate, neither for an offset that is not a whole number of
// hours nor for a string that is not a time. It accepts what the fast path of
// time.Parse(time.RFC3339, s) accepts: upper-case T and Z, seconds below 60,
// offsets below 24 hours, fractions of any length (read to the nanosecond).
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4], 0, 9999)
	month, ok2 := digits(s[5:7], 1, 12)
	day, ok3 := digits(s[8:10], 1, 31)
	hour, ok4 := digits(s[11:13], 0, 23)
	minute, ok5 := digits(s[14:16], 0, 59)
	sec, ok6 := digits(s[17:19], 0, 59)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || day > daysIn(year, month) {
		return time.Time{}, false
	}
	s = s[19:]
	nsec := 0
	if s[0] == '.' {
		i := 1
		for ; i < len(s) && isDigit(s[i]); i++ {
			if i <= 9 {
				nsec = nsec*10 + int(s[i]-'0')
			}
		}
		if i == 1 {
			return time.Time{}, false
		}
		for n := i - 1; n < 9; n++ {
			nsec *= 10
		}
		s = s[i:]
	}
	offset := 0
	switch {
	case s == "Z":
	case len(s) == len("+07:00") && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		h, ok1 := digits(s[1:3], 0, 23)
		m, ok2 := digits(s[4:6], 0, 59)
		if !ok1 || !ok2 {
			return time.Time{}, false
		}
		offset = (h*60 + m) * 60
		if s[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec-offset, nsec, time.UTC), true
}

// digits reads s, all decimal digits, as a number in [min, max].
func digits(s string, min, max int) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= min && n <= max
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
