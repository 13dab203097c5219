package admin

import "github.com/ramp-flags/ramp/internal/store"

// ConflictError refuses a write computed from a version of an object that
// is no longer the stored one ("changed meanwhile"): it says what the
// object is now and who changed it. It matches ramp.ErrConflict. The admin
// API answers it with 412 when the request named the version it expected
// (If-Match), and its client returns it as it is.
type ConflictError = store.ConflictError
