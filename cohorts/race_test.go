//go:build race

package cohorts_test

// raceEnabled reports whether the race detector is on. Under it sync.Pool
// drops items at random, so regexp matching allocates now and then.
const raceEnabled = true
