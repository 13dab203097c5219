package store

// SetCopyParams sets how many parameters one INSERT of Copy carries, so
// that tests cross batch boundaries with few rows; it returns a function
// restoring the default.
func SetCopyParams(n int) (restore func()) {
	old := copyParams
	copyParams = n
	return func() { copyParams = old }
}
