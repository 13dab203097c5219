package dashboard

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/reportchart"
)

// funcs are the helpers templates format values with.
var funcs = template.FuncMap{
	"when":     when,
	"ago":      ago,
	"value":    value,
	"conds":    conds,
	"join":     func(s []string) string { return strings.Join(s, ", ") },
	"share":    share,
	"percent":  func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"pvalue":   reportchart.PValue,
	"count":    safety.Thousands,
	"num":      func(x float64) string { return fmt.Sprintf("%.4g", x) },
	"add":      func(a, b int) int { return a + b },
	"bucketPc": func(b uint32) string { return fmt.Sprintf("%.2f%%", float64(b)/100) },
	"lift": func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "—"
		}
		return fmt.Sprintf("%+.2f%%", x*100)
	},
	"interval": func(iv report.Interval) string {
		f := func(x float64) string {
			switch {
			case math.IsInf(x, 1):
				return "+∞"
			case math.IsInf(x, -1):
				return "−∞"
			case math.IsNaN(x):
				return "—"
			}
			return fmt.Sprintf("%+.2f%%", x*100)
		}
		return "[" + f(iv.Low) + ", " + f(iv.High) + "]"
	},
}

// when writes a time for people, in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago writes how long before now a time is, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = "less than a minute"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// value writes a variant's value as JSON.
func value(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// conds writes conditions as the configuration file does.
func conds(cs []cohorts.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

// share writes part of whole as a percentage, "—" without a whole.
func share(part, whole int) string {
	if whole <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// pct writes a flags.Percent with its sign.
func pct(p flags.Percent) string { return p.String() + "%" }

func init() { funcs["pct"] = pct }
