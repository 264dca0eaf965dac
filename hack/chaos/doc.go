// Command chaos is `make chaos`: the real binaries as processes under
// crashes and platform faults, checked against DESIGN §11's invariants from
// the platforms' own views and the API, never from the controller's word
// alone.
//
// It starts its own Postgres (hack/devenv/pgcluster, so it can restart it), a real
// S3 server (versitygw, hack/devenv/s3server), the Coolify and ECS simulators as
// `sim coolify|ecs --sim-bots` processes (every container or task an
// in-process simulated bot, so a thousand bots need no thousand
// processes), two loopback webhook receivers, and 2–3 `meeboter serve`
// replicas on one database and one LOCAL_STATE_DIR, with
// PLATFORM_PRIORITY=coolify,aws,local (local bots are meeboter-bot
// processes). A reverse proxy in front of the replicas is PUBLIC_URL: it
// spreads calls round-robin over the replicas that are up and tries the
// next one when a connection is refused; the runner's own API calls go
// through it too, and it witnesses every bot call (X-Bot-Id, a hash of the
// attempt token).
//
// The chaos phase (--duration) creates --bots bots spread over it, with
// bursts that queue bots: short simulated calls, 15 % scheduled (join_at
// ahead), 20 % recording (a 64 KiB upload), 20 % with a callback URL,
// meetings on Meet, Zoom and Teams. Creates carry an Idempotency-Key and a
// sequence number in metadata.chaos; a create that gets no answer or a 5xx
// is retried with the same key, and "accepted" means a 201 came back. A
// quarter of the bots are cancelled or told to leave when first seen
// QUEUED, DEPLOYING or in the call. Meanwhile it SIGKILLs a random replica
// every --kill-min..--kill-max (waiting up to 2 s for a moment it is
// working a reconcile, the crash worth testing) and restarts it 0.5–3 s
// later (its bot processes live on, to be adopted); restarts Postgres once, halfway
// (--pg-outage down); opens fault windows one after another — 5xx
// (including after the call took effect), 429 storms with Retry-After,
// status lag and ECS consistency lag (missing, then found), failing list
// calls, ECS capacity failures, slow image pulls longer than DEPLOY_TIMEOUT
// — and aims destructive injections at single in-call bots (vanish an ECS
// task, crash or vanish a Coolify slot container, SIGKILL a local bot).
// Then it waits up to --drain for every bot to end, and one GC period more.
//
// What it checks, and from where:
//
//   - every accepted create is in the API's final list exactly once, found
//     by its sequence number (lost_creates, duplicate bots);
//   - every bot ended DONE or FATAL with a reason (stuck otherwise);
//   - no FATAL but of a bot an injection hit (fatal_from_transient_faults);
//     a recording bot DONE/completed has its verified upload;
//   - at most one live workload per bot: from the simulators' in-process
//     bots (GET /_sim/bots) and the local processes (/proc), sampled every
//     2 s, a duplicate counted when seen in two samples in a row; and from
//     the proxy, two attempt tokens of one bot accepted over the same
//     seconds (duplicate_workloads);
//   - no workload running for a bot that ended more than one GC period
//     (GC_INTERVAL + GC_GRACE) plus 15 s ago, sampled the same way, seen
//     calling through the proxy, or left on any platform at the end
//     (leaked_workloads);
//   - no stop or delete, as the simulators recorded them (GET /_sim/stops),
//     of a running workload of a live bot's current attempt that nobody
//     asked to stop: within two GC intervals plus 5 s of a failed list call
//     it counts as deleted_during_failed_list, otherwise as an unexpected
//     stop;
//   - ECS tasks alive at once (stopping ones too, from the simulator's
//     stats) within AWS_BOT_LIMIT, local processes within LOCAL_BOT_LIMIT;
//   - a bot whose Coolify slot container was crashed and restarted ends
//     within 20 s;
//   - never two replicas with meeboter_leader 1 in two scrape rounds in a
//     row (every 500 ms), a leader again within 10 s of losing one (a
//     Postgres outage excepted), exactly one at the end (leaders_at_end);
//   - recovery: right before each kill, the victim's running reconcile_bot
//     jobs (river_job.attempted_by ends with its REPLICA_ID, or with it and
//     "@<run>"), less any that completed before the SIGKILL landed; a bot's
//     recovery is the time to its first reconcile that started after the
//     kill and completed; when the victim led, the time until a replica
//     leads again is a sample too. Every incarnation of a replica gets its
//     own REPLICA_ID (r1-1, r1-2, …). None may take 60 s; p99 must stay within
//     10 s (20 s in the short mode, which shares the cores with make test);
//   - after the Postgres restart, every replica ready, a leader and a
//     completed reconcile within 90 s (postgres_outage_recovery_seconds);
//   - no River job discarded; no replica exiting unless killed;
//   - every callback bot's final status delivered to its receiver, every
//     delivery's signature valid (pkg/webhook).
//
// It prints a progress line every 10 s, a table at the end, and writes
// --out (chaos.json) with accepted, done, fatal_by_reason, stuck,
// duplicate_workloads, leaked_workloads, deleted_during_failed_list,
// lost_creates, fatal_from_transient_faults, kills, recovery_p50_seconds,
// recovery_p99_seconds, postgres_outage_recovery_seconds, leaders_at_end,
// then the details and the list of violations. It exits 1 on any
// violation, 2 on bad flags. Logs of every process stay in the work
// directory when something failed (or with --keep).
//
// Replica settings (the same for every size): DEPLOY_TIMEOUT=60s (slow
// pulls last 75 s), HEARTBEAT_TIMEOUT=60s with beats every 5 s,
// LEAVE_TIMEOUT=30s, QUEUE_TIMEOUT=5m, JOIN_LEAD_TIME=10s,
// RESYNC_INTERVAL=2s, OBSERVE_INTERVAL=1s, JOB_TIMEOUT=10s,
// GC_INTERVAL=5s, GC_GRACE=15s (3s and 6s in the short mode); limits
// COOLIFY_BOT_LIMIT=45 (POOL_MAX_SLOTS=15 per meeting platform),
// AWS_BOT_LIMIT=40, LOCAL_BOT_LIMIT=12.
//
// Default (`make chaos`): 1,000 bots over 6 minutes, 3 replicas, kills
// every 10–30 s, six fault windows, 16 injections, the Postgres restart;
// about nine minutes in all. --short (the mode TestChaosShort runs in
// `make test`): 100 bots over 45 s, 2 replicas, 2 kills, one fault window
// (5xx), no injections, no Postgres restart; under two minutes.
//
//	go run ./hack/chaos [--short] [--bots N] [--duration D] [--replicas N] [--seed S] [--out chaos.json] [--keep]
//
// Files: options.go (flags, sizes, replica settings), chaos.go (the run),
// system.go, child.go, build.go, replica.go, sims.go, proxy.go (the
// processes), witness.go, tracker.go, sampler.go, leader.go (the views),
// plans.go, creator.go, actions.go, faults.go, injections.go, killer.go,
// pgrestart.go (what the run does), drain.go, stopcheck.go, checks.go,
// checkworkloads.go, checkcontrol.go, report.go (the verdict).
package main
