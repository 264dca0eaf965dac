// Package coolifysim is an in-process simulator of the Coolify REST API v1
// (Coolify 4.3.11), faithful enough that the controller cannot tell it from
// the real thing on the calls it makes.
//
// It serves the subset of /api/v1 a meeting-bot controller uses — Docker-image
// applications, their environment variables, start/stop/restart, deployments —
// with Coolify's behaviour rather than its OpenAPI document where the two
// differ (../../../../shared/reference/coolify-api.md §8): exact error bodies,
// field allow-lists, the per-server deployment queue (concurrent_builds,
// deployment_queue_limit, "skipped" and phantom deployment uuids), status
// strings "<state>:<health>" that lag reality, async stop and delete, the
// unless-stopped restart policy with max_restart_count, and Laravel's
// per-user rate limit.
//
// A started application runs a Workload — an in-process function or an OS
// process (ProcessWorkload) — with exactly the environment set through the
// API, so a real bot binary can be driven through the simulator.
//
// Time: everything the simulator does is a function of Config.Clock. A
// background ticker (and every request) fires due events, so tests may inject
// a fake clock and move it forward instead of sleeping.
//
// Faults (Knobs, also under /_sim/ and as flags of `go run ./hack/sim
// coolify`): error rate, 429 storms, failing list calls, crashing or
// vanishing containers, cold/warm start latency and status lag. Every
// application stop and delete that took effect is recorded with the time of
// the last failed list call before it (Stops, GET /_sim/stops).
//
// Layout: sim.go (Config, Sim, scheduler), server.go (routing, request and
// response plumbing), auth.go (token, rate limit, fault injection),
// fields.go (allow-lists and Laravel-style validation), applications.go,
// envs.go, deployments.go (queue and lifecycle endpoints), containers.go
// (containers, restart policy), status.go (status strings and lag),
// workload.go (Workload, ProcessWorkload), knobs.go (knobs, /_sim/,
// snapshots), stops.go (the record of stops and deletes), json.go
// (serialisation helpers).
package coolifysim
