package cohorts

import "math"

// A hand-written semantic-version reader: evaluation compares an app version
// from every request context, and the well-known Go semver libraries allocate
// a value per parse. This one reads the string in place and allocates nothing.

// semver is a parsed version. pre is the pre-release part (without the '-'),
// empty for a release; build metadata is ignored, as SemVer 2.0.0 says.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver reads MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] with an
// optional leading "v". Missing minor and patch parts count as 0, so "300"
// and "v300.0" both read as 300.0.0. Numbers must fit in 64 bits; pre-release
// and build parts are non-empty dot-separated identifiers of [0-9A-Za-z-], as
// SemVer 2.0.0 requires (leading zeros are tolerated everywhere).
func parseSemver(s string) (semver, bool) {
	var v semver
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	if s == "" {
		return v, false
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	i := 0
	for part := 0; part < 3; part++ {
		start := i
		var n uint64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			d := uint64(s[i] - '0')
			if n > (math.MaxUint64-d)/10 {
				return v, false // does not fit in 64 bits
			}
			n = n*10 + d
			i++
		}
		if i == start {
			return v, false
		}
		*nums[part] = n
		if i == len(s) || s[i] != '.' || part == 2 {
			break
		}
		i++ // skip '.'
		if i == len(s) {
			return v, false
		}
	}
	if i < len(s) && s[i] == '-' {
		n := identsLen(s[i+1:])
		if n == 0 {
			return v, false
		}
		v.pre = s[i+1 : i+1+n]
		i += 1 + n
	}
	if i < len(s) && s[i] == '+' {
		n := identsLen(s[i+1:])
		if n == 0 {
			return v, false
		}
		i += 1 + n
	}
	if i != len(s) {
		return v, false
	}
	return v, true
}

// identsLen returns the length of the dot-separated identifiers of
// [0-9A-Za-z-] that s starts with, or 0 if an identifier is empty (as in
// "a..b", ".a" or "a.").
func identsLen(s string) int {
	i, start := 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if i == start {
				return 0
			}
			start = i + 1
			continue
		}
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
	}
	if i == start {
		return 0
	}
	return i
}

// compareSemver returns -1, 0 or +1 following SemVer 2.0.0 precedence.
func compareSemver(a, b semver) int {
	switch {
	case a.major != b.major:
		return cmpU(a.major, b.major)
	case a.minor != b.minor:
		return cmpU(a.minor, b.minor)
	case a.patch != b.patch:
		return cmpU(a.patch, b.patch)
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release ranks above its pre-releases
	case b.pre == "":
		return -1
	}
	return comparePrerelease(a.pre, b.pre)
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// comparePrerelease compares dot-separated identifiers: numeric ones
// numerically and below alphanumeric ones, the rest in ASCII order, and a
// shorter list below a longer one that it prefixes.
func comparePrerelease(a, b string) int {
	for {
		if a == "" || b == "" {
			switch {
			case a == b:
				return 0
			case a == "":
				return -1
			default:
				return 1
			}
		}
		ia, ra := nextIdent(a)
		ib, rb := nextIdent(b)
		if c := compareIdent(ia, ib); c != 0 {
			return c
		}
		a, b = ra, rb
	}
}

func nextIdent(s string) (ident, rest string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func compareIdent(a, b string) int {
	na, nb := isNumeric(a), isNumeric(b)
	switch {
	case na && nb:
		// Compare numerically without overflow: strip leading zeros, then
		// the longer number is larger.
		a, b = trimZeros(a), trimZeros(b)
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case na:
		return -1
	case nb:
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
