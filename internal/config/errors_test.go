package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/config"
)

// wantProblem is a problem a file must report: its line, its path and a
// part of its message. Column is checked when not zero.
type wantProblem struct {
	Line, Column int
	Path         string
	Message      string // substring
}

// errorCases has one entry per class of problem. Every file declares a valid
// configuration but for the problem it is about; they also seed FuzzParse.
var errorCases = []struct {
	name string
	file string // with a .json extension for JSON input
	data string
	want []wantProblem
}{
	{
		name: "unknown variant in serve",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - serve: onn
`,
		want: []wantProblem{{8, 16, "flags[0].rules[0].serve", `unknown variant "onn" (have on, off)`}},
	},
	{
		name: "unknown variant in rollout",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - rollout: {on: 10, of: 90}
`,
		want: []wantProblem{{8, 31, "flags[0].rules[0].rollout.of", `unknown variant "of"`}},
	},
	{
		name: "unknown default variant",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "off"}
`,
		want: []wantProblem{{3, 67, "flags[0].defaultVariant", `unknown variant "off" (have on)`}},
	},
	{
		name: "percentages not summing to 100",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - rollout:
          on: 10
          off: 80
`,
		want: []wantProblem{{8, 9, "flags[0].rules[0].rollout", "percentages sum to 90, not 100"}},
	},
	{
		name: "more than two decimals",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - rollout: {on: 33.333, off: 66.667}
`,
		want: []wantProblem{
			{8, 23, "flags[0].rules[0].rollout.on", "at most two decimals"},
			{8, 36, "flags[0].rules[0].rollout.off", "at most two decimals"},
		},
	},
	{
		name: "percentage not a number",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - rollout: {on: [100]}
`,
		want: []wantProblem{{8, 23, "flags[0].rules[0].rollout.on", "want a percentage, got a list"}},
	},
	{
		name: "unknown region",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - {regions: [US, XX], serve: "on"}
`,
		want: []wantProblem{{8, 24, "flags[0].rules[0].regions[1]", `unknown region "XX"`}},
	},
	{
		name: "unknown member region",
		data: `
cohorts:
  - key: c
    members: [a, {id: b, region: Mars}]
`,
		want: []wantProblem{{4, 34, "cohorts[0].members[1].region", `unknown region "Mars"`}},
	},
	{
		name: "unknown cohort",
		data: `
cohorts:
  - {key: employees, members: []}
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - {cohorts: [employees, employes], serve: "on"}
`,
		want: []wantProblem{{10, 31, "flags[0].rules[0].cohorts[1]", `unknown cohort "employes"`}},
	},
	{
		name: "value not of the flag's type",
		data: `
flags:
  - key: f
    type: integer
    variants:
      short: 300
      long: "600"
      never: 1.5
    defaultVariant: short
`,
		want: []wantProblem{
			{7, 13, "flags[0].variants.long", `value "600" (a string) is not of type integer`},
			{8, 14, "flags[0].variants.never", "is not of type integer"},
		},
	},
	{
		name: "string variant that YAML reads as a number",
		data: `
flags:
  - {key: f, type: string, variants: {a: 300, b: "300"}, defaultVariant: b}
`,
		want: []wantProblem{{3, 42, "flags[0].variants.a", "is not of type string"}},
	},
	{
		name: "object variant that is not an object",
		data: `
flags:
  - {key: f, type: object, variants: {a: {x: 1}, b: plain}, defaultVariant: a}
`,
		want: []wantProblem{{3, 53, "flags[0].variants.b", `value "plain" (a string) is not of type object`}},
	},
	{
		name: "duplicate flag key",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "on"}
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "on"}
`,
		want: []wantProblem{{4, 11, "flags[1].key", `duplicate flag key "f"`}},
	},
	{
		name: "duplicate cohort key",
		data: `
cohorts:
  - key: c
  - key: c
`,
		want: []wantProblem{{4, 10, "cohorts[1].key", `duplicate cohort key "c"`}},
	},
	{
		name: "duplicate variant",
		data: `
flags:
  - key: f
    type: boolean
    variants:
      on: true
      off: false
      on: false
    defaultVariant: "off"
`,
		want: []wantProblem{{8, 7, "flags[0].variants.on", `duplicate key "on" (first at line 6)`}},
	},
	{
		name: "duplicate field",
		data: `
flags:
  - key: f
    type: boolean
    key: g
`,
		want: []wantProblem{{5, 5, "flags[0].key", `duplicate key "key" (first at line 3)`}},
	},
	{
		name: "duplicate member",
		data: `
cohorts:
  - key: c
    members: [a, b, a]
`,
		want: []wantProblem{{4, 21, "cohorts[0].members[2]", `duplicate member "a" (also members[0])`}},
	},
	{
		name: "missing defaultVariant",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
`,
		want: []wantProblem{{3, 5, "flags[0].defaultVariant", "defaultVariant is required"}},
	},
	{
		name: "missing variants",
		data: `
flags:
  - key: f
    type: boolean
    defaultVariant: "on"
`,
		want: []wantProblem{
			{3, 5, "flags[0].variants", "at least one variant"},
			{5, 21, "flags[0].defaultVariant", `unknown variant "on"`},
		},
	},
	{
		name: "unknown type",
		data: `
flags:
  - {key: f, type: bool, variants: {on: true}, defaultVariant: "on"}
`,
		want: []wantProblem{{3, 20, "flags[0].type", `unknown type "bool"`}},
	},
	{
		name: "unknown bucketing version",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "on", bucketing: 9}
`,
		want: []wantProblem{{3, 84, "flags[0].bucketing", "unknown bucketing version 9"}},
	},
	{
		name: "rule with serve and rollout",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - name: both
        serve: "on"
        rollout: {on: 100}
`,
		want: []wantProblem{{8, 9, "flags[0].rules[0]", "one of serve, rollout and allocation, not several"}},
	},
	{
		name: "bad operator",
		data: `
cohorts:
  - key: c
    when:
      - {attribute: appVersion, op: semver_greater, values: ["1.0.0"]}
`,
		want: []wantProblem{{5, 9, "cohorts[0].when[0]", `unknown operator "semver_greater"`}},
	},
	{
		name: "bad regex",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - when:
          - attribute: email
            op: matches
            values: "(@example.com"
        serve: "on"
`,
		want: []wantProblem{{9, 13, "flags[0].rules[0].when[0]", "invalid regular expression"}},
	},
	{
		name: "bad semantic version",
		data: `
cohorts:
  - key: c
    when: [{attribute: appVersion, op: semver_gte, values: [three]}]
`,
		want: []wantProblem{{4, 12, "cohorts[0].when[0]", "needs a semantic version"}},
	},
	{
		name: "unknown field",
		data: `
flags:
  - key: f
    type: boolean
    variants: {on: true}
    defaultVariant: "on"
    rules:
      - serv: "on"
`,
		want: []wantProblem{{8, 9, "flags[0].rules[0]", `unknown field "serv" (did you mean "serve"?)`}},
	},
	{
		name: "unknown field in another case",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, default_variant: "on"}
`,
		want: []wantProblem{{3, 51, "flags[0]", `unknown field "default_variant" (did you mean "defaultVariant"?)`}},
	},
	{
		name: "unknown top-level field",
		data: `
flag:
  - key: f
`,
		want: []wantProblem{{2, 1, "", `unknown field "flag" (did you mean "flags"?)`}},
	},
	{
		name: "unknown member field",
		data: `
cohorts:
  - {key: c, members: [{id: a, country: US}]}
`,
		want: []wantProblem{{3, 32, "cohorts[0].members[0]", `unknown field "country" (want id, region)`}},
	},
	{
		name: "rollout stage names an unknown cohort",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true, off: false}, defaultVariant: "off"}
rollouts:
  - flag: f
    variant: "on"
    stages:
      - {name: dogfood, cohorts: [staff], percent: 100}
`,
		want: []wantProblem{{8, 35, "rollouts[0].stages[0].cohorts[0]", `unknown cohort "staff"`}},
	},
	{
		name: "rollout stage lowers a target",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true, off: false}, defaultVariant: "off"}
rollouts:
  - flag: f
    variant: "on"
    stages:
      - {name: us-10, regions: [US], percent: 10}
      - {name: us-5, regions: [US], percent: 5, after: 48h}
`,
		want: []wantProblem{{9, 46, "rollouts[0].stages[1].percent", "lowers region US from 10% to 5%"}},
	},
	{
		name: "rollout stage with a bad duration, time and approval",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true, off: false}, defaultVariant: "off"}
rollouts:
  - flag: f
    variant: "on"
    stages:
      - {name: us-1, regions: [US], percent: 1}
      - {name: us-10, regions: [US], percent: 10, after: 2 days}
      - {name: us-50, regions: [US], percent: 50, at: tomorrow, approval: yes}
`,
		want: []wantProblem{
			{9, 58, "rollouts[0].stages[1].after", `invalid duration "2 days"`},
			{10, 55, "rollouts[0].stages[2].at", `invalid time "tomorrow"`},
			{10, 75, "rollouts[0].stages[2].approval", `want required or none, got "yes"`},
		},
	},
	{
		name: "rollout stage without percent",
		data: `
rollouts:
  - flag: nope
    variant: "on"
    stages:
      - {name: s, regions: [US]}
`,
		want: []wantProblem{
			{6, 9, "rollouts[0].stages[0].percent", "percent is required"},
		},
	},
	{
		name: "rollout for an unknown flag",
		data: `
rollouts:
  - flag: nope
    variant: "on"
    stages:
      - {name: s, regions: [US], percent: 1}
`,
		want: []wantProblem{{3, 11, "rollouts[0].flag", `unknown flag "nope"`}},
	},
	{
		name: "string where a list is expected",
		data: `
flags:
  - key: f
    type: boolean
    tags: mobile
    variants: {on: true}
    defaultVariant: "on"
`,
		want: []wantProblem{{5, 11, "flags[0].tags", `want a list of tags, got the string "mobile"`}},
	},
	{
		name: "list where a string is expected",
		data: `
flags:
  - {key: [f], type: boolean, variants: {on: true}, defaultVariant: "on"}
`,
		want: []wantProblem{{3, 11, "flags[0].key", "want a string, got a list"}},
	},
	{
		name: "list where a mapping is expected",
		data: `
flags:
  - {key: f, type: boolean, variants: [on, off], defaultVariant: "on"}
`,
		want: []wantProblem{{3, 39, "flags[0].variants", "want a mapping, got a list"}},
	},
	{
		name: "flags not a list",
		data: `
flags:
  key: f
`,
		want: []wantProblem{{3, 3, "flags", "want a list of flags, got a mapping"}},
	},
	{
		name: "enabled not a boolean",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "on", enabled: yes}
`,
		want: []wantProblem{{3, 82, "flags[0].enabled", `want true or false, got the string "yes"`}},
	},
	{
		name: "bucketing not an integer",
		data: `
flags:
  - {key: f, type: boolean, variants: {on: true}, defaultVariant: "on", bucketing: v1}
`,
		want: []wantProblem{{3, 84, "flags[0].bucketing", "want a bucketing version such as 1"}},
	},
	{
		name: "integer out of range",
		data: `
flags:
  - {key: f, type: integer, variants: {big: 18446744073709551615}, defaultVariant: big}
`,
		want: []wantProblem{{3, 45, "flags[0].variants.big", "is not of type integer"}},
	},
	{
		name: "null members",
		data: `
cohorts:
  - key: c
    members:
`,
		want: []wantProblem{{4, 13, "cohorts[0].members", "members is null"}},
	},
	{
		name: "null member",
		data: `
cohorts:
  - key: c
    members: [a, ~]
`,
		want: []wantProblem{{4, 18, "cohorts[0].members[1]", "want a user id or {id, region}, got null"}},
	},
	{
		name: "top level not a mapping",
		data: `- flags`,
		want: []wantProblem{{1, 1, "", "want a mapping with cohorts, flags, rollouts, layers, metrics and experiments, got a list"}},
	},
	{
		name: "empty file",
		data: "# nothing here\n",
		want: []wantProblem{{0, 0, "", "the file is empty"}},
	},
	{
		name: "two documents",
		data: "flags: []\n---\ncohorts: []\n",
		want: []wantProblem{{2, 0, "", "one YAML document, found another"}},
	},
	{
		name: "syntax error",
		data: "flags:\n  - key: f\n   type: boolean\n",
		want: []wantProblem{{2, 0, "", "syntax error: did not find expected '-' indicator"}},
	},
	{
		name: "merge key",
		data: `
base: &base {type: boolean}
flags:
  - <<: *base
    key: f
`,
		want: []wantProblem{
			{2, 1, "", `unknown field "base"`},
			{4, 5, "flags[0]", "merge keys (<<) are not supported"},
		},
	},
	{
		name: "alias inside its own value",
		data: `
flags:
  - key: f
    type: object
    variants: {a: &loop [1, *loop]}
    defaultVariant: a
`,
		want: []wantProblem{{5, 29, "flags[0].variants.a[1]", "alias *loop is used inside the value it names"}},
	},
	{
		name: "NaN inside an object",
		data: `
flags:
  - {key: f, type: object, variants: {a: {x: .nan}}, defaultVariant: a}
`,
		want: []wantProblem{{3, 46, "flags[0].variants.a.x", ".nan is not a JSON number"}},
	},
	{
		name: "every problem is listed",
		data: `
cohorts:
  - key: c
    when: [{attribute: a, op: lt, values: [x]}]
flags:
  - key: f
    type: boolean
    variants: {on: true, off: 1}
    defaultVariant: "of"
    rules:
      - {cohorts: [d], serve: "on"}
      - {regions: [ZZ], rollout: {on: 50}}
`,
		want: []wantProblem{
			{4, 12, "cohorts[0].when[0]", "lt needs a number"},
			{8, 31, "flags[0].variants.off", "is not of type boolean"},
			{9, 21, "flags[0].defaultVariant", `unknown variant "of"`},
			{11, 20, "flags[0].rules[0].cohorts[0]", `unknown cohort "d"`},
			{12, 20, "flags[0].rules[1].regions[0]", `unknown region "ZZ"`},
			{12, 25, "flags[0].rules[1].rollout", "percentages sum to 50, not 100"},
		},
	},
	{
		name: "JSON: unknown variant",
		file: "flags.json",
		data: `{
  "flags": [
    {
      "key": "f",
      "type": "boolean",
      "variants": {"on": true, "off": false},
      "defaultVariant": "off",
      "rules": [{"serve": "onn"}]
    }
  ]
}`,
		want: []wantProblem{{8, 27, "flags[0].rules[0].serve", `unknown variant "onn"`}},
	},
	{
		name: "JSON: duplicate key",
		file: "flags.json",
		data: `{"flags": [], "flags": []}`,
		want: []wantProblem{{1, 15, "flags", `duplicate key "flags" (first at line 1)`}},
	},
	{
		name: "JSON: syntax error",
		file: "flags.json",
		data: "{\n  \"flags\": [\n}\n",
		want: []wantProblem{{3, 0, "", "syntax error"}},
	},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "ramp.yaml"
			}
			_, _, err := config.Load(file, []byte(tt.data), nil)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load: got %v, want a *config.Error", err)
			}
			if ce.File != file {
				t.Errorf("File = %q, want %q", ce.File, file)
			}
			var got []wantProblem
			for i, p := range ce.Problems {
				g := wantProblem{Line: p.Line, Path: p.Path, Message: p.Message}
				if i < len(tt.want) {
					if tt.want[i].Column != 0 {
						g.Column = p.Column
					}
					if strings.Contains(p.Message, tt.want[i].Message) {
						g.Message = tt.want[i].Message
					}
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s\nerror:\n%v", diff, err)
			}
			// Every problem appears in Error(), located in the file.
			for _, p := range ce.Problems {
				line := file + ":" + p.String()
				if p.Line == 0 {
					line = file + ": " + p.String()
				}
				if !strings.Contains(err.Error(), "\n"+line) {
					t.Errorf("Error() lacks %q:\n%v", line, err)
				}
			}
		})
	}
}

// TestErrorFormat pins the rendering of a file with several problems.
func TestErrorFormat(t *testing.T) {
	_, _, err := config.Load("invalid.yaml", readFile(t, "invalid.yaml"), nil)
	if err == nil {
		t.Fatal("Load: no error")
	}
	golden(t, "invalid.golden", []byte(err.Error()+"\n"))
}
