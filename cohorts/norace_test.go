//go:build !race

package cohorts_test

const raceEnabled = false
