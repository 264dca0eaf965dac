// Package ecssim is an in-process simulator of the Amazon ECS API for
// Fargate tasks, faithful enough that the real aws-sdk-go-v2 ECS client
// (pointed at it with BaseEndpoint or AWS_ENDPOINT_URL_ECS) cannot tell it
// from ECS on the calls a controller makes. The contract is
// ../../../../../shared/reference/ecs-api.md.
//
// Wire: awsJson1_1 — POST / with X-Amz-Target
// AmazonEC2ContainerServiceV20141113.<Op>, lowerCamelCase JSON, epoch-second
// timestamps, errors {"__type","message"} with 400 (client faults) or 500
// (ServerException). Every request must carry a SigV4 signature that the
// SDK's own signer reproduces with the configured key.
//
// Operations: RunTask, StopTask, DescribeTasks, ListTasks, plus
// DescribeClusters, ListClusters, DescribeTaskDefinition and
// ListTagsForResource; anything else is UnknownOperationException.
//
// Semantics reproduced: RunTask's validation (count 1–10, Fargate's
// awsvpc configuration, startedBy and tag rules, the 8 KiB overrides limit),
// clientToken idempotency per cluster for 24 h (ConflictException with
// resourceIds on different parameters), failures[] and partial success,
// the task lifecycle PROVISIONING → PENDING → (ACTIVATING) → RUNNING →
// (DEACTIVATING) → STOPPING → DEPROVISIONING → STOPPED with stop codes and
// reasons, tags deleted on stop, stopped tasks kept for an hour, ListTasks'
// default desiredStatus RUNNING and opaque pagination, DescribeTasks'
// MISSING failures, eventual consistency (a new task is invisible for a
// while), and the per-category token buckets of ECS's request throttling
// plus the Fargate launch rate, which counts tasks.
//
// A task's essential container runs a Workload — an in-process function or
// an OS process (ProcessWorkload) — with the task definition's environment
// overlaid by the RunTask container overrides; when it returns, the task
// stops with EssentialContainerExited and its exit code.
//
// Time: everything the simulator does is a function of Config.Clock. A
// background ticker (and every request) fires due events, so tests may
// inject a fake clock and move it forward instead of sleeping.
//
// Faults (Sim methods, POST /_sim/knobs, flags of `go run ./hack/sim ecs`):
// capacity failures, Fargate capacity outages, failed starts, throttle
// storms, error rates, failing ListTasks/DescribeTasks calls, consistency
// lag, latencies, and tasks that are stopped by ECS (Spot interruptions),
// crash or vanish. Every StopTask that took effect is recorded with the
// time of the last failed read before it (Stops, GET /_sim/stops).
//
// Layout: sim.go (Config, Sim, scheduler), server.go (awsJson1_1 plumbing,
// faults), auth.go (SigV4), throttle.go (token buckets), wire.go (JSON
// shapes), names.go (ids, ARNs, resolution), validate.go and runtask.go
// (RunTask), task.go and lifecycle.go (the state machine), view.go (task
// JSON), ops.go and list.go (the other operations), workload.go (Workload,
// ProcessWorkload), knobs.go (knobs, snapshots, stats), stops.go
// (fail_lists and the record of stops), control.go (/_sim/).
package ecssim
