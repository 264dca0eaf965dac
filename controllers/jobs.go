package controllers

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueReconcile holds the bots' reconciles.
const QueueReconcile = "reconcile"

// uniqueWhileUnfinished keeps one job per args among the states that have not
// finished. Running is included (River requires it), so an event that
// arrives during a reconcile is skipped as a duplicate; ReconcileWorker
// closes that gap by re-checking the bot's revision before it completes, and
// the leader's JobSweeper frees the running job of a replica that died.
// Completed is not included: it would block the next wake-up.
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
