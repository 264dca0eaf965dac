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

// ReconcileWorker runs a bot's reconciler. Unique jobs (running included)
// mean two reconciles of one bot never overlap; an event that arrived while
// this one ran was skipped as a duplicate, so before completing the worker
// checks, in the same transaction as the completion, that the bot's revision
// did not move, and otherwise runs again at once.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Reconciler BotReconciler
	Store      RevisionStore
	Metrics    *metrics.Metrics
}

// Work implements river.Worker.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	rev, found, err := w.Store.BotRevision(ctx, job.Args.BotID)
	if err != nil || !found {
		return err
	}
	start := time.Now()
	_, err = w.Reconciler.Reconcile(ctx, job.Args.BotID)
	w.Metrics.ObserveReconcile("bot", start, err)
	if err != nil {
		return err
	}
	changed, err := w.Store.CompleteIfUnchanged(ctx, job.Args.BotID, rev, func(tx pgx.Tx) error {
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
// at 30 s: a bot must not wait River's default hours-long backoff.
func (w *ReconcileWorker) NextRetry(job *river.Job[ReconcileArgs]) time.Time {
	backoff := min(250*time.Millisecond<<min(job.Attempt, 8), 30*time.Second)
	return time.Now().Add(backoff/2 + rand.N(backoff/2+1))
}

// runOnceWorker adapts a service's RunOnce to a River worker, counted as
// one pass of controller.
func runOnceWorker[T river.JobArgs](m *metrics.Metrics, controller string, run func(ctx context.Context) (int, error)) river.Worker[T] {
	return river.WorkFunc(func(ctx context.Context, _ *river.Job[T]) error {
		start := time.Now()
		_, err := run(ctx)
		m.ObserveReconcile(controller, start, err)
		return err
	})
}
