package controllers

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

// BotReconciler is the reconciler the worker drives.
type BotReconciler interface {
	Reconcile(ctx context.Context, id uuid.UUID) (bot.Result, error)
}

// Looker is a reconciler that can tell from one read, acting on nothing,
// that a bot only waits (bot.Reconciler is one): such a wake-up is settled
// without the bot's lock.
type Looker interface {
	Look(ctx context.Context, id uuid.UUID) (bot.Look, error)
}

// SettleStore closes a reconcile without losing a wake-up.
type SettleStore interface {
	SettleReconcile(ctx context.Context, s store.Settle) (changed bool, err error)
}

// lockBusyDelay is how soon a reconcile whose bot is locked by another one
// (on a replica that is alive, or whose session has not been reaped yet)
// tries again.
const lockBusyDelay = 250 * time.Millisecond

// maxReconcileBackoff caps the wait before a failed reconcile runs again. It
// stays below River's scheduler interval (5 s), so a retry never waits for
// River's leader, which may be the replica that just died.
const maxReconcileBackoff = 4 * time.Second

// ReconcileWorker runs a bot's reconciler. A reconcile that acts holds the
// bot's advisory lock on this replica's session, so two reconciles of one
// bot never act at once, and the lock dies with the replica: a reconcile
// requeued from a dead replica can run at once. (River's unique jobs keep
// one job per bot in flight too, but a job a dead replica left running is
// only freed by the leader's sweeper, which cannot tell a dead replica from
// one that merely lost its session.) An event that arrived while this
// reconcile ran was skipped as a duplicate, so the worker completes the job
// only if the bot's revision did not move since the reconcile's last read,
// in the same statement (store.SettleReconcile), and otherwise runs again
// at once, in the same job.
//
// Most wake-ups of a bot in a call find nothing to do. With a Looker, the
// worker first reads the bot and decides; a bot that only waits is settled
// at once, without the lock: two round trips in all, and nothing written
// but the job's completion (and the next check, when it moves). The lock
// guards actions (platform calls, state changes), and a look takes none:
// what it writes is fenced by the revision, by the next check it read
// (compare-and-set) and by the job's run, so a reconcile acting meanwhile
// is never overwritten.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Reconciler BotReconciler
	Store      SettleStore
	Locks      Locker
	Metrics    *metrics.Metrics
}

// maxReruns bounds how many times one job runs a reconcile again at once
// because its bot moved meanwhile; after that the job is snoozed, so a bot
// written without pause cannot hold a worker.
const maxReruns = 3

// errMoved reports that the bot moved while its reconcile ran.
var errMoved = errors.New("bot moved during its reconcile")

// Work implements river.Worker. A bot that moved during its reconcile (the
// admission right after a create does so nearly always) is reconciled again
// in the same job: a snoozed job waits for River's next poll (up to a
// second), because snoozing notifies no producer.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	run := store.JobRun{ID: job.ID, Attempt: job.Attempt}
	for range maxReruns {
		if err := w.once(ctx, job.Args.BotID, run); !errors.Is(err, errMoved) {
			return err
		}
	}
	return river.JobSnooze(0)
}

// once reconciles the bot once and settles the job; errMoved when the bot
// moved meanwhile and the job is still running.
func (w *ReconcileWorker) once(ctx context.Context, id uuid.UUID, run store.JobRun) error {
	if l, ok := w.Reconciler.(Looker); ok {
		start := time.Now()
		look, err := l.Look(ctx, id)
		switch {
		case err != nil || look.Revision == 0:
			w.Metrics.ObserveReconcile("bot", start, err)
			return err // an error is retried; no bot: nothing to do
		case look.Idle:
			changed, err := w.Store.SettleReconcile(ctx, store.Settle{Bot: id, Revision: look.Revision, Job: run,
				MoveNext: look.NextMoves(), NextCheck: look.NextCheck, Next: look.Next})
			w.Metrics.ObserveReconcile("bot", start, err)
			return settled(changed, err)
		}
		// Work to do: under the lock, the reconcile reads the bot again.
	}
	lock, ok, err := w.Locks.TryLock("meeboter-bot:" + id.String())
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(lockBusyDelay/2 + rand.N(lockBusyDelay))
	}
	defer lock.Release()
	// Losing the session loses the lock: stop acting for the bot at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lock.Lost():
			cancel()
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	res, err := w.Reconciler.Reconcile(ctx, id)
	w.Metrics.ObserveReconcile("bot", start, err)
	if err != nil || res.Revision == 0 {
		return err // no bot: nothing to fence, River completes the job
	}
	return settled(w.Store.SettleReconcile(ctx, store.Settle{Bot: id, Revision: res.Revision, Job: run}))
}

// settled is once's outcome when the reconcile is settled: errMoved when
// the bot moved meanwhile.
func settled(changed bool, err error) error {
	if err != nil {
		return err
	}
	if changed {
		return errMoved
	}
	return nil
}

// NextRetry backs a failing reconcile off exponentially with jitter, capped
// at maxReconcileBackoff: a bot must not wait River's default hours-long
// backoff.
func (w *ReconcileWorker) NextRetry(job *river.Job[ReconcileArgs]) time.Time {
	backoff := min(250*time.Millisecond<<min(job.Attempt, 8), maxReconcileBackoff)
	return time.Now().Add(backoff/2 + rand.N(backoff/2+1))
}
