// Package ecs is the AWS ECS platform: one RunTask per bot attempt.
//
// # Create
//
// Create calls RunTask (count 1) with the task definition of the meeting
// platform, a launch type or a capacity-provider strategy, awsvpc networking,
// the workload's environment as a container override (sorted, so identical
// workloads give identical requests), startedBy, the tags meeboter:bot,
// meeboter:attempt and meeboter:deployment, and the platform's own clientToken:
// the workload name (hash-shortened beyond 64 characters). A Create retried
// after a crash therefore adopts the task of the first call: with the same
// parameters ECS returns the same task, and with different ones (the controller
// rotates the attempt token in the environment) ECS answers ConflictException
// with the existing task's ARN in resourceIds, which Create returns. Client
// tokens live 24 hours, longer than any bot.
//
// A RESOURCE:* placement failure, Fargate's "Capacity is unavailable", the
// account's concurrent-task or vCPU limit and the cluster's PROVISIONING quota
// are platform.ErrCapacity, so the controller waits or tries its next
// platform. Everything else is a plain error.
//
// # Naming: List and Lookup
//
// ECS deletes a task's tags when it stops, and DescribeTasks never returns the
// clientToken. A task's deployment name is therefore read from the
// meeboter:deployment tag while it has one, and otherwise from the environment
// variable MEEBOTER_WORKLOAD, which Create adds to the container override and
// which DescribeTasks keeps returning (task.overrides) after the task stops.
// Listed.ExternalID is always the task ARN; when neither source names a task,
// Listed.Name is empty and the controller's observer and collector match it by
// ExternalID (the ARN stored on the deployment row).
//
// List is ListTasks(cluster, startedBy) for desiredStatus RUNNING and then
// STOPPED (in that order, so a task that stops between the two calls is seen at
// least once), paginated by 100, then DescribeTasks in batches of 100 with
// TAGS. Any error fails the whole List: never a partial list. Tasks that
// DescribeTasks reports MISSING (eventual consistency right after RunTask) are
// left out, not reported exited: absence within a grace period is unknown.
//
// Lookup keeps no state: it pages through the RUNNING tasks of startedBy,
// describing each page, and stops at the first task named after the workload.
// It finds live tasks only (the Platform contract); a stopped one is for List.
// It is used only after a crash while creating, so its cost does not matter.
//
// # Rate limits
//
// Every HTTP attempt, retries included, first takes a token from client-side
// buckets matching ECS's own: cluster-resource modify (RunTask, StopTask: 40/s,
// burst 100), cluster-resource read (ListTasks, DescribeTasks: 20/s, burst 100)
// and Fargate launches (RunTask: 20/s, burst 100). A burst of bots waits here
// instead of becoming ThrottlingExceptions; the SDK's retryer absorbs the rare
// ones that still happen (other accounts' calls share the bucket).
package ecs
