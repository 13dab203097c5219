// Package spelling measures how far a mistyped word is from the words it
// may have meant, for "did you mean" in error messages.
package spelling

// Distance is the Levenshtein distance between two short strings: the
// fewest insertions, deletions and substitutions of bytes that turn a
// into b. Strings longer than 64 bytes are 64 apart from anything (too
// far to suggest), which bounds the work an outside input can cause.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
