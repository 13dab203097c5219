package cohorts

import (
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in   string
		want semver
	}{
		{"1.2.3", semver{1, 2, 3, ""}},
		{"0.0.0", semver{0, 0, 0, ""}},
		{"v1.2.3", semver{1, 2, 3, ""}},
		{"V1.2.3", semver{1, 2, 3, ""}},
		{"300", semver{300, 0, 0, ""}},
		{"v300", semver{300, 0, 0, ""}},
		{"v300.0", semver{300, 0, 0, ""}},
		{"1.2", semver{1, 2, 0, ""}},
		{"01.002.0003", semver{1, 2, 3, ""}},
		{"1.2.3-alpha", semver{1, 2, 3, "alpha"}},
		{"1.2.3-alpha.1", semver{1, 2, 3, "alpha.1"}},
		{"1.0.0-0.3.7", semver{1, 0, 0, "0.3.7"}},
		{"1.0.0-x.7.z.92", semver{1, 0, 0, "x.7.z.92"}},
		{"1.0.0-x-y-z.--", semver{1, 0, 0, "x-y-z.--"}},
		{"1.0.0-alpha-a.b-c-somethinglong", semver{1, 0, 0, "alpha-a.b-c-somethinglong"}},
		{"1.2-beta", semver{1, 2, 0, "beta"}},
		{"2-rc.1", semver{2, 0, 0, "rc.1"}},
		{"1.2.3+build", semver{1, 2, 3, ""}},
		{"1.2.3+build.5.sha-abc", semver{1, 2, 3, ""}},
		{"1.0.0+0.build.1-rc.10000aaa-kk-0.1", semver{1, 0, 0, ""}},
		{"1.2.3-rc.1+build.5", semver{1, 2, 3, "rc.1"}},
		{"1.2.3-rc+b-c", semver{1, 2, 3, "rc"}},
		{"1+build", semver{1, 0, 0, ""}},
		{"18446744073709551615.0.0", semver{1<<64 - 1, 0, 0, ""}},
		{"1.18446744073709551615.18446744073709551615", semver{1, 1<<64 - 1, 1<<64 - 1, ""}},
		{"1.0.0-99999999999999999999999", semver{1, 0, 0, "99999999999999999999999"}},
	}
	for _, tt := range tests {
		got, ok := parseSemver(tt.in)
		if !ok || got != tt.want {
			t.Errorf("parseSemver(%q) = %+v, %v; want %+v, true", tt.in, got, ok, tt.want)
		}
	}

	for _, in := range []string{
		"", "v", "V", "vv1", " 1.2.3", "1.2.3 ", "-1.2.3", "+1", ".1", "1.", "1.2.", "1..2", "1.2..3", "a.b.c", "1.a.3",
		"1.2.3.4", "1.2.3-", "1.2.3+", "1.2.3-+b", "1.2.3-alpha_1", "1.2.3-alpha!", "1.2.3-é", "1.2.3-alpha..1",
		"1.2.3-.alpha", "1.2.3-alpha.", "1.2.3+build..1", "1.2.3+.b", "1.2.3+b.", "1.2.3+b_1", "1.2.3-a+b+c",
		"1.-2", "1.2.-3", "1,2,3", "1.2.3rc1", "1.2.3.rc1", "x1.2.3",
		"18446744073709551616.0.0", "1.18446744073709551616.0", "1.0.99999999999999999999", "99999999999999999999999",
	} {
		if got, ok := parseSemver(in); ok {
			t.Errorf("parseSemver(%q) = %+v, true; want false", in, got)
		}
	}
}

func mustSemver(t testing.TB, s string) semver {
	t.Helper()
	v, ok := parseSemver(s)
	if !ok {
		t.Fatalf("parseSemver(%q) failed", s)
	}
	return v
}

func TestCompareSemverOrder(t *testing.T) {
	// Each list is in strictly ascending precedence; the first is the
	// example from SemVer 2.0.0 §11.
	chains := [][]string{
		{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
		{"1.0.0", "2.0.0", "2.1.0", "2.1.1"},
		{"0.0.1", "0.1", "1", "1.0.1", "1.1", "2"},
		{"1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-99999999999999999999", "1.0.0-100000000000000000000", "1.0.0--", "1.0.0-A", "1.0.0-Z", "1.0.0-a", "1.0.0-z"},
		{"1.0.0-1.a", "1.0.0-1a", "1.0.0-a1"},                                       // "1a" is alphanumeric
		{"1.0.0-a", "1.0.0-a.0", "1.0.0-a.b", "1.0.0-a.b.0", "1.0.0-aa", "1.0.0-b"}, // a prefix ranks lower
		{"1.0.0-rc.9", "1.0.0-rc.10", "1.0.0-rc.100", "1.0.0-rc.a", "1.0.0-rc1"},    // numeric below alphanumeric
		{"1.0.0-2", "1.0.0-10", "1.0.0-010a"},                                       // "010a" is alphanumeric
		{"1.9.9", "1.10.0", "1.10.1", "10.0.0", "9223372036854775807.0.0", "18446744073709551615.0.0"},
		{"18446744073709551614.18446744073709551615.18446744073709551615", "18446744073709551615.0.0-a", "18446744073709551615.0.0"},
	}
	for _, chain := range chains {
		for i := range chain {
			for j := range chain {
				a, b := mustSemver(t, chain[i]), mustSemver(t, chain[j])
				want := cmpInt(i, j)
				if got := compareSemver(a, b); got != want {
					t.Errorf("compareSemver(%s, %s) = %d, want %d", chain[i], chain[j], got, want)
				}
			}
		}
	}

	// Versions of equal precedence.
	equal := [][2]string{
		{"1.0.0", "v1.0.0"},
		{"1.0.0", "1"},
		{"1.0.0", "1.0"},
		{"1.0.0", "1.0.0+build.1"},
		{"1.0.0+a", "1.0.0+b"},
		{"1.0.0-rc.1+a", "1.0.0-rc.1+b"},
		{"01.02.03", "1.2.3"},
		{"1.0.0-alpha.01", "1.0.0-alpha.1"}, // leading zeros are read as numbers
		{"1.0.0-0", "1.0.0-000"},
		{"1.0.0-007", "1.0.0-7"},
		{"1.0.0-000000000000000000000000000001", "1.0.0-1"},
	}
	for _, p := range equal {
		a, b := mustSemver(t, p[0]), mustSemver(t, p[1])
		if got := compareSemver(a, b); got != 0 {
			t.Errorf("compareSemver(%s, %s) = %d, want 0", p[0], p[1], got)
		}
		if got := compareSemver(b, a); got != 0 {
			t.Errorf("compareSemver(%s, %s) = %d, want 0", p[1], p[0], got)
		}
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// refSemver is a slow, obviously correct reading of a version, used to check
// parseSemver and compareSemver: a regular expression from the SemVer grammar
// (with the optional "v", optional minor and patch and leading zeros that
// parseSemver allows), numbers as big integers.
var refSemverRE = regexp.MustCompile(`^[vV]?([0-9]+)(?:\.([0-9]+)(?:\.([0-9]+))?)?` +
	`(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

type refVersion struct {
	nums [3]*big.Int
	pre  []string
}

func refParse(s string) (refVersion, bool) {
	m := refSemverRE.FindStringSubmatch(s)
	if m == nil {
		return refVersion{}, false
	}
	var v refVersion
	for i := range 3 {
		v.nums[i] = new(big.Int)
		if m[i+1] != "" {
			v.nums[i].SetString(m[i+1], 10)
			if _, err := strconv.ParseUint(m[i+1], 10, 64); err != nil {
				return refVersion{}, false // too large for parseSemver
			}
		}
	}
	if m[4] != "" {
		v.pre = strings.Split(m[4], ".")
	}
	return v, true
}

func refCompare(a, b refVersion) int {
	for i := range 3 {
		if c := a.nums[i].Cmp(b.nums[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		nx, okx := new(big.Int).SetString(x, 10)
		ny, oky := new(big.Int).SetString(y, 10)
		okx = okx && !strings.ContainsAny(x, "+-")
		oky = oky && !strings.ContainsAny(y, "+-")
		var c int
		switch {
		case okx && oky:
			c = nx.Cmp(ny)
		case okx:
			c = -1
		case oky:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a.pre), len(b.pre))
}

// randomVersion writes a version from a small alphabet, so that generated
// versions often share parts and exercise every branch of the comparison.
func randomVersion(r *rand.Rand) string {
	nums := []string{"0", "1", "2", "10", "01", "18446744073709551615"}
	idents := []string{"0", "1", "2", "9", "10", "11", "010", "99999999999999999999", "a", "b", "alpha", "beta", "rc", "A", "-", "1a", "a1", "x-y"}
	var b strings.Builder
	if r.IntN(4) == 0 {
		b.WriteByte('v')
	}
	b.WriteString(nums[r.IntN(len(nums))])
	for range r.IntN(3) {
		b.WriteString("." + nums[r.IntN(len(nums))])
	}
	if r.IntN(3) > 0 {
		b.WriteByte('-')
		for i := range 1 + r.IntN(4) {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(idents[r.IntN(len(idents))])
		}
	}
	if r.IntN(4) == 0 {
		b.WriteString("+build." + idents[r.IntN(len(idents))])
	}
	return b.String()
}

// TestCompareSemverProperties checks that compareSemver agrees with the
// reference and is a total preorder: reflexive, antisymmetric and transitive.
func TestCompareSemverProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 400
	strs := make([]string, n)
	vs := make([]semver, n)
	refs := make([]refVersion, n)
	for i := range n {
		strs[i] = randomVersion(r)
		vs[i] = mustSemver(t, strs[i])
		var ok bool
		if refs[i], ok = refParse(strs[i]); !ok {
			t.Fatalf("reference rejects generated version %q", strs[i])
		}
	}
	for i := range n {
		if c := compareSemver(vs[i], vs[i]); c != 0 {
			t.Errorf("compareSemver(%s, %[1]s) = %d, want 0", strs[i], c)
		}
		for j := range n {
			cij, cji := compareSemver(vs[i], vs[j]), compareSemver(vs[j], vs[i])
			if cij != -cji {
				t.Errorf("not antisymmetric: compare(%[1]s, %[2]s) = %[3]d but compare(%[2]s, %[1]s) = %[4]d", strs[i], strs[j], cij, cji)
			}
			if want := refCompare(refs[i], refs[j]); cij != want {
				t.Errorf("compareSemver(%s, %s) = %d, reference says %d", strs[i], strs[j], cij, want)
			}
		}
	}
	for range 200_000 {
		i, j, k := r.IntN(n), r.IntN(n), r.IntN(n)
		ab, bc, ac := compareSemver(vs[i], vs[j]), compareSemver(vs[j], vs[k]), compareSemver(vs[i], vs[k])
		if ab <= 0 && bc <= 0 && ac > 0 || ab >= 0 && bc >= 0 && ac < 0 {
			t.Fatalf("not transitive: %[1]s vs %[2]s: %[4]d, %[2]s vs %[3]s: %[5]d, %[1]s vs %[3]s: %[6]d", strs[i], strs[j], strs[k], ab, bc, ac)
		}
	}
	// Sorting with compareSemver leaves every pair in order.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareSemver(vs[a], vs[b]) })
	for x := range n {
		for y := x + 1; y < n; y++ {
			if c := compareSemver(vs[idx[x]], vs[idx[y]]); c > 0 {
				t.Fatalf("after sorting, %s comes before %s but compares %d", strs[idx[x]], strs[idx[y]], c)
			}
		}
	}
}

var sink int

func TestParseSemverDoesNotAllocate(t *testing.T) {
	in := []string{"1.2.3", "v300.1.2-rc.1+build.5", "1.0.0-alpha.beta.11", "bad"}
	a, b := mustSemver(t, "1.0.0-beta.11"), mustSemver(t, "1.0.0-beta.2")
	n := testing.AllocsPerRun(100, func() {
		for _, s := range in {
			parseSemver(s)
		}
		sink = compareSemver(a, b)
	})
	if n != 0 {
		t.Errorf("parseSemver and compareSemver allocate %v times per run, want 0", n)
	}
}

func FuzzParseSemver(f *testing.F) {
	for _, s := range []string{
		"1.2.3", "v1.2.3", "1", "1.2", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.11", "1.0.0-rc.1",
		"1.0.0+build.1", "1.0.0-rc.1+build.1", "1.0.0-x-y-z.--", "1.0.0-007", "18446744073709551615.0.0",
		"18446744073709551616", "", "v", "1.", "1..2", "a.b.c", "1.2.3-", "1.2.3-a..b", "1.2.3+", "1.2.3.4",
	} {
		f.Add(s)
	}
	fixed := []string{"0.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.11", "1.0.0", "2.0.0", "18446744073709551615.0.0-a"}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseSemver(s)
		ref, refOK := refParse(s)
		if ok != refOK {
			t.Fatalf("parseSemver(%q) ok = %v, reference says %v", s, ok, refOK)
		}
		if !ok {
			return
		}
		if c := compareSemver(v, v); c != 0 {
			t.Fatalf("compareSemver(%q, itself) = %d", s, c)
		}
		if w, ok := parseSemver("v" + strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")); !ok || compareSemver(v, w) != 0 {
			t.Fatalf("%q and its v-prefixed form differ", s)
		}
		for _, fs := range fixed {
			w := mustSemver(t, fs)
			fref, _ := refParse(fs)
			c, d := compareSemver(v, w), compareSemver(w, v)
			if c != -d {
				t.Fatalf("compare(%q, %q) = %d, reversed %d", s, fs, c, d)
			}
			if want := refCompare(ref, fref); c != want {
				t.Fatalf("compare(%q, %q) = %d, reference says %d", s, fs, c, want)
			}
		}
	})
}
