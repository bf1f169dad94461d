//go:build linux

// Package metrics holds nproxy's counters and renders them for GET
// /metrics in the Prometheus text exposition format (version 0.0.4).
//
// # One table for every worker
//
// The master creates one shared memory file (Create) when it starts and
// hands it to every worker it spawns, respawns and reloads included, so
// counters outlive worker generations and never go backwards. The file
// holds, in order:
//
//   - a header the master alone writes: reloads, worker restarts, the
//     configuration generation;
//   - the catalog: the names of the series (a [server] block's routes,
//     an upstream's backends), laid out by the master when it loads a
//     configuration (Register) and only ever appended to, so a name keeps
//     its index across reloads;
//   - MaxSlots worker slots (Counters), one per worker number. A worker
//     finds the indexes of its configuration's series by name when it
//     loads it (Lookup) and counts into its own slot only.
//
// A scrape, answered by whichever worker the connection landed on, sums
// every slot: /metrics shows the whole server, not one worker.
//
// # Cost on the request path
//
// Counting is a few atomic adds into the worker's own slot (cache lines
// no other CPU writes), with no lock and no allocation; a histogram is one
// add for its bucket and one for its sum, the count being the sum of the
// buckets at scrape. The atomics matter for the moment two processes share
// a slot (during a reload the draining worker and its replacement both own
// their slot number) and for the reader in another process.
//
// # Bounds
//
// The catalog holds MaxRoutes route series and MaxBackends backend series
// over the master's life. Index 0 of each is the overflow series: a name
// registered once the catalog is full counts there, rendered with
// server="_overflow" (or upstream="_overflow"). Label values longer than
// maxLabel bytes are cut.
//
// A Table made with New lives in the process's own memory: what a server
// uses when no master gave it a shared one (tests, embedding); its
// catalog is filled by the server itself (Register).
package metrics
