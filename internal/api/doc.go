// Package api serves the admin API of ramp serve: JSON over HTTP under
// /api/v1, one endpoint per use case of the control plane (internal/admin),
// every request authenticated (auth.Authenticator) and checked against the
// principal's permission, who then acts as the audit log's actor.
//
// Objects carry an ETag, their version and the database's epoch
// (`"<version>-<epoch>"`); moves that depend on a plan's state (advance,
// rollback, plan edits, deleting a plan) need If-Match (428 without it, 412
// when stale). Errors are RFC 9457 problems (application/problem+json)
// whose status comes from the error's ramp.Kind through one table
// (problem.go), and which carry the typed errors front-ends act on, so that
// the client (internal/client) returns the errors admin returns locally.
//
// docs/http-api.md describes the API; openapi.yaml specifies it and a test
// holds it to the routes.
package api
