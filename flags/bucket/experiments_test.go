package bucket_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

var updateExperiments = flag.Bool("update-experiments", false, "rewrite testdata/golden_experiments_v1.tsv from the engine")

// The fixed experiment of golden_experiments_v1.tsv: its share of the
// layer (a set of three ranges) and its phase's arm table (a 50/25/25
// table in which "off" owns three ranges).
var (
	goldenSample = []flags.BucketRange{{From: 0, To: 1000}, {From: 4000, To: 4500}, {From: 9000, To: 10000}}
	goldenTable  = []flags.VariantRange{
		{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"}, {From: 5900, To: 6700, Variant: "off"},
		{From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"},
	}
)

const goldenExperimentsFile = "golden_experiments_v1.tsv"

// goldenSalts are the (layer, experiment) salt pairs of the vectors: the
// defaults of docs/bucketing.md for two layers and experiments, and one
// pair of explicit salts.
var goldenSalts = [][2]string{
	{"layer-cross-app-messaging", "experiment-dm-handoff-vs-inline"},
	{"layer-experiment-link-code-ttl", "experiment-link-code-ttl"},
	{"layer-2026", "exp.q3_relaunch"},
}

// goldenUnits lists the units of the vectors: forty plain ids, then more
// until every range of the table has units in the sample, and keys that
// are integers, Unicode, or longer than the implementation's stack buffer.
func goldenUnits(layerSalt, expSalt string) []string {
	units := []string{"12345", "ユーザー-42", "😀", strings.Repeat("u", 300)}
	hit := map[uint32]int{}
	for i := 0; len(units) < 40 || len(hit) < len(goldenTable); i++ {
		u := fmt.Sprintf("ac-%d", i)
		in := contains(goldenSample, bucket.Bucket(bucket.V1, layerSalt, u))
		from := rangeOf(bucket.Bucket(bucket.V1, expSalt, u)).From
		if len(units) < 40 || in && hit[from] == 0 {
			units = append(units, u)
		}
		if in {
			hit[from]++
		}
	}
	return units
}

func contains(rs []flags.BucketRange, b uint32) bool {
	for _, r := range rs {
		if r.From <= b && b < r.To {
			return true
		}
	}
	return false
}

func rangeOf(b uint32) flags.VariantRange {
	for _, r := range goldenTable {
		if r.From <= b && b < r.To {
			return r
		}
	}
	panic(fmt.Sprintf("bucket %d outside the table", b))
}

// goldenSnapshot compiles one flag per salt pair whose only rule is the
// fixed experiment, as the snapshot feed carries it; "none" is served to
// units outside the sample.
func goldenSnapshot(t *testing.T) *flags.Snapshot {
	t.Helper()
	var st flags.State
	for i, s := range goldenSalts {
		st.Flags = append(st.Flags, flags.Flag{
			Key: fmt.Sprintf("f%d", i), Type: flags.String, Enabled: true, Bucketing: bucket.V1, DefaultVariant: "none",
			Variants: []flags.Variant{{Key: "none", Value: "none"}, {Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
			Rules: []flags.Rule{{
				Sample:     &flags.Sample{Salt: s[0], Buckets: goldenSample},
				Allocation: &flags.Allocation{Salt: s[1], Ranges: goldenTable},
				Origin:     &flags.Origin{Kind: flags.OriginExperiment, Key: "golden", Phase: 1},
			}},
		})
	}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestGoldenExperimentsV1 pins experiment assignments: for each unit, its
// layer bucket, whether the fixed sample holds it, its arm bucket and its
// arm. Each row is checked twice: against the contract computed from
// package bucket, and against the engine deciding the rule that the
// snapshot feed carries. Like golden_v1.tsv, it is never regenerated for
// version 1; a failure means real units would change arm.
func TestGoldenExperimentsV1(t *testing.T) {
	path := filepath.Join("testdata", goldenExperimentsFile)
	snap := goldenSnapshot(t)
	if *updateExperiments {
		var b strings.Builder
		b.WriteString("# Experiment assignments, bucketing v1 (docs/bucketing.md, \"Layers and experiments\").\n")
		b.WriteString("# @sample: the experiment's layer buckets; @table: its arm table (half-open ranges from-to).\n")
		b.WriteString("@sample\t" + formatSample(goldenSample) + "\n")
		b.WriteString("@table\t" + formatTable(goldenTable) + "\n")
		b.WriteString("# unit\tlayer salt\tlayer bucket\tin sample\texperiment salt\tarm bucket\tarm (- outside the sample)\n")
		for i, s := range goldenSalts {
			for _, u := range goldenUnits(s[0], s[1]) {
				d := snap.Evaluate(fmt.Sprintf("f%d", i), map[string]any{"targetingKey": u})
				in, arm := "no", "-"
				if d.Rule == 0 {
					in, arm = "yes", d.Variant
				}
				fmt.Fprintf(&b, "%s\t%s\t%d\t%s\t%s\t%d\t%s\n", u, s[0], bucket.Bucket(bucket.V1, s[0], u), in, s[1], bucket.Bucket(bucket.V1, s[1], u), arm)
			}
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var sawSample, sawTable bool
	rows, ins := 0, map[string]int{}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
			continue
		case strings.HasPrefix(text, "@sample\t"):
			sawSample = text == "@sample\t"+formatSample(goldenSample)
			continue
		case strings.HasPrefix(text, "@table\t"):
			sawTable = text == "@table\t"+formatTable(goldenTable)
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 7 {
			t.Fatalf("%s:%d: want 7 tab-separated fields, got %d", path, line, len(fields))
		}
		unit, layerSalt, inSample, expSalt, wantArm := fields[0], fields[1], fields[3], fields[4], fields[6]
		layerBucket, err1 := strconv.ParseUint(fields[2], 10, 32)
		armBucket, err2 := strconv.ParseUint(fields[5], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s:%d: bad numbers", path, line)
		}
		if got := bucket.Bucket(bucket.V1, layerSalt, unit); uint64(got) != layerBucket {
			t.Errorf("%s:%d: layer bucket of %q = %d, want %d", path, line, unit, got, layerBucket)
		}
		if got := bucket.Bucket(bucket.V1, expSalt, unit); uint64(got) != armBucket {
			t.Errorf("%s:%d: arm bucket of %q = %d, want %d", path, line, unit, got, armBucket)
		}
		in := contains(goldenSample, uint32(layerBucket))
		contract := "-"
		if in {
			contract = rangeOf(uint32(armBucket)).Variant
			ins[fmt.Sprint(rangeOf(uint32(armBucket)).From)]++
		}
		if (inSample == "yes") != in || contract != wantArm {
			t.Errorf("%s:%d: %q in sample %v with arm %s by the contract; the file says %s, %s", path, line, unit, in, contract, inSample, wantArm)
		}
		key := ""
		for i, s := range goldenSalts {
			if s == [2]string{layerSalt, expSalt} {
				key = fmt.Sprintf("f%d", i)
			}
		}
		if key == "" {
			t.Fatalf("%s:%d: salts %q, %q are not goldenSalts'", path, line, layerSalt, expSalt)
		}
		d := snap.Evaluate(key, map[string]any{"targetingKey": unit})
		if engine := map[bool]string{true: d.Variant, false: "-"}[d.Rule == 0]; engine != wantArm {
			t.Errorf("%s:%d: the engine gives %q %s (rule %d), the file %s", path, line, unit, d.Variant, d.Rule, wantArm)
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !sawSample || !sawTable {
		t.Fatalf("%s: @sample or @table line missing or not the fixed experiment's", path)
	}
	if rows < 100 || len(ins) != len(goldenTable) {
		t.Fatalf("%s: %d vectors, units in the sample in %d of %d table ranges; want at least 100 vectors and every range", path, rows, len(ins), len(goldenTable))
	}
}

func formatSample(rs []flags.BucketRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.From, r.To)
	}
	return strings.Join(parts, ",")
}

func formatTable(rs []flags.VariantRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d:%s", r.From, r.To, r.Variant)
	}
	return strings.Join(parts, ",")
}
