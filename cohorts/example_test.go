package cohorts_test

import (
	"fmt"

	"github.com/ramp-flags/ramp/cohorts"
)

func ExampleExpandSelector() {
	for _, sel := range []string{"fr", "NA", "country:NA", "group:eea", "*", "XX"} {
		countries, everywhere, err := cohorts.ExpandSelector(sel)
		switch {
		case err != nil:
			fmt.Printf("%-10s error: %v\n", sel, err)
		case everywhere:
			fmt.Printf("%-10s everywhere\n", sel)
		case len(countries) > 3:
			fmt.Printf("%-10s %d countries: %v …\n", sel, len(countries), countries[:3])
		default:
			fmt.Printf("%-10s %v\n", sel, countries)
		}
	}
	// Output:
	// fr         [FR]
	// NA         [CA MX US]
	// country:NA [NA]
	// group:eea  30 countries: [AT BE BG] …
	// *          everywhere
	// XX         error: unknown region "XX": want an ISO 3166-1 alpha-2 code, a group name or "*" (see `ramp regions`)
}

func ExampleRegionSet() {
	var eu cohorts.RegionSet
	countries, _, _ := cohorts.ExpandSelector("EU")
	for _, c := range countries {
		eu.Add(c)
	}
	fmt.Println(eu.Len(), eu.Contains("fr"), eu.Contains("GB"), eu.Contains(""))
	// Output: 27 true false false
}

func ExampleCondition_Compile() {
	c := cohorts.Condition{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}
	m, err := c.Compile()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range []any{"299.9.1", "300.0.0-rc.1", "300.0.0", "v301.2", nil} {
		fmt.Printf("%v: %v\n", v, m.Match(map[string]any{"appVersion": v}))
	}
	_, err = cohorts.Condition{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"latest"}}.Compile()
	fmt.Println(err)
	// Output:
	// 299.9.1: false
	// 300.0.0-rc.1: false
	// 300.0.0: true
	// v301.2: true
	// <nil>: false
	// operator semver_gte needs a semantic version such as 300.0.0, got "latest"
}

// Numbers and strings compare by their text, so a JSON number matches the
// string a rule was written with.
func ExampleCondition_Compile_numbers() {
	m, _ := cohorts.Condition{Attribute: "plan", Op: cohorts.OpIn, Values: []string{"300", "1.5"}}.Compile()
	for _, v := range []any{300, 300.0, "300", 1.5, "1.50", nil} {
		fmt.Printf("%#v: %v\n", v, m.Match(map[string]any{"plan": v}))
	}
	// Output:
	// 300: true
	// 300: true
	// "300": true
	// 1.5: true
	// "1.50": false
	// <nil>: false
}

func ExampleSet() {
	s := cohorts.NewSet([]string{"emp-1", "emp-2", "emp-2", "emp-3"})
	fmt.Println(s.Len(), s.Contains("emp-2"), s.Contains("emp-9"))

	// A set travels as its sorted hashes, never the ids themselves.
	copied := cohorts.NewSetFromHashes(s.Hashes())
	fmt.Println(copied.Len(), copied.Contains("emp-3"), copied.ContainsHash(cohorts.HashID("emp-1")))
	// Output:
	// 3 true false
	// 3 true true
}

func ExampleCohort_Compile() {
	c := cohorts.Cohort{
		Key:     "beta-testers",
		Members: []cohorts.Member{{ID: "emp-1"}},
		When: []cohorts.Condition{
			{Attribute: "plan", Op: cohorts.OpEq, Values: []string{"business"}},
			{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"3.0"}},
		},
	}
	cc, err := c.Compile(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	match := func(key string, ctx map[string]any) bool {
		return cc.Match(ctx, cohorts.HashID(key), key != "")
	}
	fmt.Println(match("emp-1", nil))                                                     // listed
	fmt.Println(match("u-7", map[string]any{"plan": "business", "appVersion": "3.1.0"})) // every condition holds
	fmt.Println(match("u-8", map[string]any{"plan": "business", "appVersion": "2.9.0"})) // one does not
	fmt.Println(match("", map[string]any{"plan": "business", "appVersion": "3.0.0"}))    // no targeting key
	// Output:
	// true
	// true
	// false
	// true
}
