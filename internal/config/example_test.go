package config_test

import (
	"fmt"
	"os"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
)

func ExampleParse() {
	const file = `
flags:
  - key: messenger-ig-interop
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - regions: [US]
        rollout: {"on": 10, "off": 90}
`
	doc, err := config.Parse("ramp.yaml", []byte(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	// What is stored now: the flag exists and someone switched it off.
	current := &flags.State{Flags: []flags.Flag{{Key: "messenger-ig-interop", Enabled: false, Bucketing: 1}}}
	st := doc.Resolve(current)
	if err := doc.Validate(&st); err != nil {
		fmt.Println(err)
		return
	}
	f := st.Flags[0]
	fmt.Println(f.Key, "enabled:", f.Enabled, "rollout:", f.Rules[0].Rollout)
	// Output:
	// messenger-ig-interop enabled: false rollout: [{on 10} {off 90}]
}

func ExampleDocument_Validate() {
	const file = `
flags:
  - key: messenger-ig-interop
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - regions: [US]
        rollout: {"on": 10, "off": 80}
      - cohorts: [employees]
        serve: "on"
`
	doc, err := config.Parse("ramp.yaml", []byte(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := doc.Resolve(nil)
	fmt.Println(doc.Validate(&st))
	// Output:
	// invalid configuration ramp.yaml: 2 problems
	// ramp.yaml:9:9: flags[0].rules[0].rollout: percentages sum to 90, not 100
	// ramp.yaml:10:19: flags[0].rules[1].cohorts[0]: unknown cohort "employees"
}

func ExampleEncode() {
	st := &flags.State{Flags: []flags.Flag{{
		Key:            "wa-link-code-ttl-seconds",
		Type:           flags.Integer,
		Variants:       []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
		DefaultVariant: "long",
		Enabled:        true,
		Bucketing:      1,
	}}}
	if err := config.Encode(os.Stdout, st, config.YAML); err != nil {
		fmt.Println(err)
	}
	// Output:
	// flags:
	//   - key: wa-link-code-ttl-seconds
	//     type: integer
	//     variants:
	//       short: 300
	//       long: 600
	//     defaultVariant: long
	//     enabled: true
	//     bucketing: 1
}
