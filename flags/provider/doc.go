// Package provider is ramp's OpenFeature provider for Go services: it keeps
// a compiled flags.Snapshot in memory, in sync with `ramp serve`, and decides
// flags in-process through the OpenFeature Go SDK.
//
// The name is OpenFeature's own word for what the package makes (a
// "provider" is what a service passes to openfeature.SetProviderAndWait),
// so service owners find it where they look; the import path says whose
// provider it is (ramp's flags). The package's one product is the Provider
// type, as container/list's is List. "openfeature" would shadow the SDK's
// package in every file that uses both.
//
// # Hot path
//
// An evaluation reads one atomic pointer and runs the engine; it never waits
// for the network, takes no lock and allocates nothing of its own for
// boolean, string and number flags (flag metadata is computed once per
// snapshot and shared: do not modify a FlagMetadata it returns). The SDK's
// client adds its own cost on top; see BENCHMARKS in README.md.
//
// # The snapshot feed
//
// New reads the feed that `ramp serve` publishes:
//
//	GET {base}/v1/snapshot?format=2 Authorization: Bearer <sdk key>
//	  200  a wire.FormatV2 manifest (package flags/wire): the configuration,
//	       each cohort's member set named by its ID; ETag: "<version>-<epoch>"
//	       (a server built before FormatV2 ignores format=2 and sends the
//	       whole wire.Format document, every list inline: read as well)
//	  304  with If-None-Match: "<version>-<epoch>" when nothing is newer
//	  401  unknown or revoked key; 403 a key without the reading role
//	GET {base}/v1/snapshot/sets/{id}
//	  200  the member set in wire.SetFormat (immutable: an ID names content)
//	  404  the configuration served no longer names it: read the snapshot again
//	GET {base}/v1/snapshot/events   text/event-stream
//	  "event: snapshot" + "data: {"version":N,"epoch":"…"}" on connect and
//	  on every new version; ": ping" comments every 15 s
//
// The provider keeps the member sets it holds, by ID, and fetches only the
// sets a new manifest names that it lacks, decoding each as it streams in
// straight into the set's table (no copy of the document, no slice of
// hashes): a change that leaves the lists alone costs the manifest only,
// and syncing a list costs its table and little more. Each set is checked
// against its ID; one that the server stopped serving between the manifest
// and its fetch (the list changed meanwhile) makes the provider read the
// manifest again, so a snapshot is never built from sets of two versions.
//
// (A server from before epochs sends neither the epoch nor its half of the
// ETag; the provider then sends If-None-Match: "<version>".)
//
// Init fetches the snapshot; afterwards the provider keeps the event stream
// open and fetches (with If-None-Match) whenever it announces a version newer
// than the one held, or another epoch, and also every PollInterval as a
// safety net. The stream reconnects with exponential backoff and jitter.
//
// # Versions and epochs
//
// The version orders snapshots of one database; the epoch names the
// database (see package flags/wire). A snapshot of the epoch held is taken
// only when its version is newer, so a lagging replica or a cached old body
// cannot take the provider back. A snapshot of another epoch is taken
// whatever its version, and the provider logs it ("snapshot from another
// database") and announces it with PROVIDER_CONFIGURATION_CHANGED: the
// database was moved (`ramp export`, `ramp apply`) or restored, and its
// versions started again. The same holds for the cache file and for
// NewFromFile's file. A snapshot without an epoch (from a ramp before
// epochs) is ordered by version alone; at the version held, one with an
// epoch replaces one without, silently, so that the provider learns it.
//
// # Events and states
//
// The SDK emits PROVIDER_READY (or PROVIDER_ERROR) itself when Init returns;
// the provider's own events, on EventChannel, are:
//
//   - PROVIDER_CONFIGURATION_CHANGED for every newer snapshot, FlagChanges
//     listing the flags added, removed or changed (a flag whose definition or
//     any cohort it targets differs). The SDK does not change state for it.
//   - PROVIDER_STALE when the server cannot be reached (a fetch or a stream
//     connection fails, or a fetched document cannot be decoded). The last
//     snapshot is still served; the SDK still evaluates in STALE.
//   - PROVIDER_ERROR when the server refuses the key (401 or 403). The last
//     snapshot is still served (the SDK evaluates in ERROR, unlike NOT_READY
//     or FATAL): turning every flag to its code default across a fleet because
//     a key was revoked is a bigger outage than serving the last configuration
//     the key was allowed to read. The provider keeps asking, at the poll
//     interval, so a restored key recovers without a restart.
//   - PROVIDER_READY on recovery from STALE or ERROR, and for the first
//     snapshot when Init had given up waiting for it.
//
// # Offline
//
// With CacheFile, every new snapshot is written to a file (temporary file,
// then rename: the manifest on one line, then each set in wire.SetFormat;
// a whole wire.Format document from an older server as it came) and Init
// starts from that file when it exists, READY at once
// even while the server is down. NewFromFile runs from a snapshot file alone,
// with no server, optionally re-reading it when it changes (WatchFile).
//
// # Dependencies
//
// The package imports the engine, the wire format, net/http and the
// OpenFeature SDK, and nothing of ramp's store, server or CLI: importing it
// does not bring gorm, SQLite or cobra into a service (TestDependencies).
package provider
