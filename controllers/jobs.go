package controllers

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Queues.
const (
	QueueReconcile = "reconcile"
	QueueControl   = "control"
)

// uniqueWhileUnfinished keeps one job per args among the states that have not
// finished. Running is included, so an event that arrives during a reconcile
// is skipped as a duplicate; ReconcileWorker closes that gap by re-checking
// the bot's revision before it completes. Completed is not included: it
// would block the next wake-up.
var uniqueWhileUnfinished = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// ReconcileArgs wakes one bot's reconciler.
type ReconcileArgs struct {
	BotID uuid.UUID `json:"bot_id"`
}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile_bot" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconcile, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 100}
}

// AdmitArgs runs admission.
type AdmitArgs struct{}

// Kind implements river.JobArgs.
func (AdmitArgs) Kind() string { return "admit" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (AdmitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 5}
}

// ResyncArgs enqueues every bot whose next check is due.
type ResyncArgs struct{}

// Kind implements river.JobArgs.
func (ResyncArgs) Kind() string { return "resync" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ResyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 1}
}

// ObserveArgs observes one platform.
type ObserveArgs struct {
	Platform string `json:"platform"`
}

// Kind implements river.JobArgs.
func (ObserveArgs) Kind() string { return "observe" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ObserveArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 1}
}

// PoolSyncArgs runs a pass of the Coolify slot pool.
type PoolSyncArgs struct{}

// Kind implements river.JobArgs.
func (PoolSyncArgs) Kind() string { return "pool_sync" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PoolSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 1}
}

// GCArgs collects one platform's orphans.
type GCArgs struct {
	Platform string `json:"platform"`
}

// Kind implements river.JobArgs.
func (GCArgs) Kind() string { return "gc" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (GCArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueControl, UniqueOpts: uniqueWhileUnfinished, MaxAttempts: 1}
}
