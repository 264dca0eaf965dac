package controllers

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/pkg/metrics"
)

// BotReconciler is the one-method reconciler the worker drives.
type BotReconciler interface {
	Reconcile(ctx context.Context, id uuid.UUID) (bot.Result, error)
}

// RevisionStore closes a reconcile without losing a wake-up.
type RevisionStore interface {
	BotRevision(ctx context.Context, id uuid.UUID) (int64, bool, error)
	CompleteIfUnchanged(ctx context.Context, id uuid.UUID, revision int64, complete func(pgx.Tx) error) (bool, error)
}

// lockBusyDelay is how soon a reconcile whose bot is locked by another one
// (on a replica that is alive, or whose session has not been reaped yet)
// tries again.
const lockBusyDelay = 250 * time.Millisecond

// maxReconcileBackoff caps the wait before a failed reconcile runs again. It
// stays below River's scheduler interval (5 s), so a retry never waits for
// River's leader, which may be the replica that just died.
const maxReconcileBackoff = 4 * time.Second

// ReconcileWorker runs a bot's reconciler. The reconcile holds the bot's
// advisory lock on this replica's session, so two reconciles of one bot never
// overlap, and the lock dies with the replica: a reconcile requeued from a
// dead replica can run at once. (River's unique jobs keep one job per bot in
// flight too, but a job a dead replica left running is only freed by the
// leader's sweeper, which cannot tell a dead replica from one that merely
// lost its session.) An event that arrived while this reconcile ran was
// skipped as a duplicate, so before completing, the worker checks, in the
// same transaction as the completion, that the bot's revision did not move,
// and otherwise runs again at once.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Reconciler BotReconciler
	Store      RevisionStore
	Locks      Locker
	Metrics    *metrics.Metrics
}

// Work implements river.Worker.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	id := job.Args.BotID
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
	rev, found, err := w.Store.BotRevision(ctx, id)
	if err != nil || !found {
		return err
	}
	start := time.Now()
	_, err = w.Reconciler.Reconcile(ctx, id)
	w.Metrics.ObserveReconcile("bot", start, err)
	if err != nil {
		return err
	}
	changed, err := w.Store.CompleteIfUnchanged(ctx, id, rev, func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err != nil {
		return err
	}
	if changed {
		return river.JobSnooze(0)
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
