// Package synth generates synthetic evaluation contexts shaped like the demo
// scenario's users (regions, apps, platforms, app versions, account types,
// linked accounts), deterministically from a seed, for previews and tests.
package synth

import (
	"fmt"
	"math/rand/v2"
)

type weighted struct {
	value  string
	weight int
}

// Regions and their share of the synthetic population, in percent.
var regions = []weighted{
	{"US", 30}, {"BR", 12}, {"IN", 12}, {"ID", 6}, {"MX", 6}, {"GB", 5}, {"FR", 4}, {"DE", 4},
	{"CA", 4}, {"JP", 3}, {"NG", 3}, {"EG", 3}, {"AU", 2}, {"ES", 2}, {"IT", 2}, {"TR", 2},
}

var apps = []weighted{{"instagram", 50}, {"whatsapp", 35}, {"messenger", 15}}

var platforms = []weighted{{"android", 55}, {"ios", 40}, {"web", 5}}

func pick(r *rand.Rand, options []weighted) string {
	total := 0
	for _, o := range options {
		total += o.weight
	}
	n := r.IntN(total)
	for _, o := range options {
		if n < o.weight {
			return o.value
		}
		n -= o.weight
	}
	return options[len(options)-1].value
}

// Employees are the ids the demo scenario lists in its employees cohort; the
// first users of every population are these.
var Employees = []string{"emp-1", "emp-2", "emp-3", "emp-4", "emp-5"}

// Users returns n contexts. About 60% of people have linked accounts: such a
// person appears twice, as an Instagram and a WhatsApp account with different
// targeting keys and one accountCenterId. The same seed gives the same users.
func Users(n int, seed uint64) []map[string]any {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]map[string]any, 0, n)
	for i := 0; len(out) < n; i++ {
		region := pick(r, regions)
		base := map[string]any{
			"region":      region,
			"platform":    pick(r, platforms),
			"appVersion":  fmt.Sprintf("%d.%d.%d", 290+r.IntN(30), r.IntN(10), r.IntN(6)),
			"accountType": "personal",
		}
		if r.IntN(100) < 8 {
			base["accountType"] = "business"
		}
		if i < len(Employees) {
			base["targetingKey"], base["app"] = Employees[i], "instagram"
			out = append(out, base)
			continue
		}
		if r.IntN(100) < 60 && len(out)+2 <= n {
			ac := fmt.Sprintf("ac-%d", i)
			ig := clone(base)
			ig["targetingKey"], ig["app"], ig["accountCenterId"] = fmt.Sprintf("ig-%d", i), "instagram", ac
			wa := clone(base)
			wa["targetingKey"], wa["app"], wa["accountCenterId"] = fmt.Sprintf("wa-%d", i), "whatsapp", ac
			out = append(out, ig, wa)
			continue
		}
		base["app"] = pick(r, apps)
		base["targetingKey"] = fmt.Sprintf("%s-%d", shortApp(base["app"].(string)), i)
		out = append(out, base)
	}
	return out
}

func shortApp(app string) string {
	switch app {
	case "instagram":
		return "ig"
	case "whatsapp":
		return "wa"
	}
	return "msg"
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}
