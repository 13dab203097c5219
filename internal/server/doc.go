// Package server is `ramp serve`: an HTTP server that answers OpenFeature
// Remote Evaluation Protocol (OFREP v1) requests and publishes the snapshot
// feed that in-process providers (flags/provider) sync from, both from one
// compiled configuration held in memory.
//
// # The configuration in memory
//
// The server loads the store's state, compiles it (flags.Compile) and
// encodes it for the feed (wire.Marshal) once per configuration version, and
// publishes the result through an atomic pointer. A loop checks the store's
// revision (version and epoch, ramp.Revision) every poll interval (200 ms
// by default) and on Trigger (a change notification); when either changed,
// the new configuration is loaded and swapped in, whatever its version: a
// new epoch is another database (moved or restored), whose versions start
// again. Every validator the server hands out carries the epoch, so that no
// client gets a 304 for another database's configuration that happens to
// have the same version.
// A request reads the pointer once, so it is answered from the old
// configuration or the new one, never a mix. A failed reload keeps the old
// configuration, logs, counts in ramp_config_reload_errors_total, and is
// retried with backoff. Event streams wake on every swap.
//
// # Endpoints
//
//	POST /ofrep/v1/evaluate/flags/{key}  sdk    one decision
//	POST /ofrep/v1/evaluate/flags        sdk    every flag; ETag, 304, eventStreams
//	GET  /ofrep/v1/events                sdk    SSE refetchEvaluation (ADR-0008)
//	GET  /v1/snapshot                    sdk    the wire document; ETag "<version>-<epoch>", 304
//	GET  /v1/snapshot/events             sdk    SSE "snapshot" {"version":N,"epoch":"…"}
//	POST /v1/reload                      editor check the store now
//	GET  /metrics                        viewer Prometheus
//	/auth/oidc/                          none   single sign-on (Config.OIDC)
//	GET  /healthz, /readyz               none
//
// docs/http-api.md describes them for clients: bodies, status codes, and the
// places where the OFREP specification contradicts itself and what ramp
// chose.
//
// # Credentials
//
// Requests present a credential (an API key or a personal token) as
// "Authorization: Bearer <secret>" or "X-API-Key: <secret>"; a credential
// in the URL's query string is refused. Config.Auth (auth.Checker in ramp
// serve) turns it into an auth.Principal with a role, throttles client
// addresses that fail too often (429 with Retry-After, before their secret
// is looked at), and reloads its credentials on its own, within a second of
// a revocation, without any change to the configuration version. Each
// credential has a token bucket (Config.RateLimit); past it requests get
// 429 with Retry-After in whole seconds.
//
// An authenticator that can also say whether a principal's credential is
// still active (Active) and when it reloaded (Changed) lets the server end
// the event streams of revoked credentials at that reload, and refuse their
// event-stream tokens, which are bound to the credential
// (Principal.CredentialID), not to its name. Config.OIDC, single sign-on,
// is mounted at /auth/oidc/.
package server
