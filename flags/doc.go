// Package flags is ramp's domain and evaluation engine: flags with typed
// variants, ordered targeting rules, validation of a whole configuration
// (State), and its compilation into an immutable Snapshot that decides a
// flag for an OpenFeature evaluation context.
//
// The package does no I/O and imports no storage, HTTP or CLI code: stores,
// servers and providers build a State, Compile it, and swap the resulting
// Snapshot in atomically. Evaluation never panics; every failure returns the
// caller's default with an OpenFeature error code.
package flags
