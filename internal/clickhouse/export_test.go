package clickhouse

// SetUnitsPerQuery sets how many units one query of a split reads, and
// returns a function that restores it: tests split small data sets.
func SetUnitsPerQuery(n uint64) (restore func()) {
	old := unitsPerQuery
	unitsPerQuery = n
	return func() { unitsPerQuery = old }
}
