// Package kubernetes is the Kubernetes platform: one bare Pod per bot
// attempt, in one namespace, observed through a shared informer.
//
// # Why a Pod, not a Job
//
// A Job adds nothing a bot attempt needs and hides what the controller
// must see. The controller already owns retries (attempts, each a new
// workload), so a Job's backoffLimit would be 0 and its pod template the
// whole object. Creating the Pod directly makes capacity answers
// synchronous: a ResourceQuota or an admission refusal is the answer to
// Create (platform.ErrCapacity, so PLATFORM_PRIORITY falls back at once),
// where a Job is accepted and its pods are refused later, in events only.
// The deterministic name is the pod's own (no generated suffix), so a
// create retried after a crash adopts by name exactly; and a stop deletes
// the one object that runs the bot, so no pod outlives its Job's deletion.
// What a Job would give, the Pod has too: restartPolicy Never and
// activeDeadlineSeconds (the bot's maximum lifetime); a finished pod is
// deleted by the controller's stop or its garbage collection instead of a
// TTL.
//
// # Create
//
// The pod is named after the workload (meeboter-<bot>-<attempt>), labelled
// with the owner, bot id, attempt and meeting platform, and runs one
// container, "bot", with the meeting platform's image, exactly the
// workload's environment, and the meeting platform's resource requests and
// limits. No service-account token is mounted and no service links are
// injected: the per-attempt token is the only secret a bot holds. Node
// selector, tolerations, service account and a strategic-merge pod patch
// come from the configuration; the patch cannot change the name, labels,
// restart policy or the bot container's environment.
//
// # Observation by watch
//
// A shared informer, label-selected on the owner in one namespace, keeps
// every pod in memory; each change calls Config.OnChange, which wakes the
// controller's observer, and List answers from that cache: a complete list
// without an API call. After the watch failed (the API server restarted,
// say) List reads the API until the cache agrees with it again, so a stale
// cache is never taken for a complete list. Pod phase, container state and
// reasons map to the common Observation with stable codes (Codes).
//
// # Stop
//
// Stop deletes the pod (the bot gets its termination grace period) with
// the pod's UID as a precondition, and reports gone only once the API
// server no longer has it; a pod still there past its grace (a lost node
// never confirms) is deleted again with a zero grace.
package kubernetes
