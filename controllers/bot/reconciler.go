package bot

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// Store is what the reconciler needs of the database.
type Store interface {
	LoadBot(ctx context.Context, id uuid.UUID) (store.Bot, *store.Deployment, error)
	QueueBot(ctx context.Context, id uuid.UUID, now time.Time) error
	BeginCreate(ctx context.Context, id uuid.UUID, attempt int, token string, now time.Time) (store.Creation, error)
	MarkRunning(ctx context.Context, id uuid.UUID, attempt int, externalID string, now time.Time) error
	RecordDeployError(ctx context.Context, id uuid.UUID, attempt int, msg string, retryAt, now time.Time) (int, error)
	RecordCapacityWait(ctx context.Context, id uuid.UUID, attempt int, msg string, retryAt, now time.Time) error
	MarkStopping(ctx context.Context, id uuid.UUID, attempt int, now time.Time) error
	MarkGone(ctx context.Context, id uuid.UUID, attempt int, now time.Time) error
	RetryAttempt(ctx context.Context, id uuid.UUID, attempt int, now time.Time) (bool, error)
	FinishBot(ctx context.Context, id uuid.UUID, status store.Status, reason string, now time.Time) (bool, error)
	SetNextCheck(ctx context.Context, id uuid.UUID, at *time.Time) error
	MoveAttempt(ctx context.Context, id uuid.UUID, attempt int, candidates []store.PlatformLimit, now time.Time) (string, error)
}

// Result says when the bot wants its next look (zero: only on change).
type Result struct {
	RequeueAt time.Time
	// Revision is the bot's revision, read with the state the reconcile's
	// last decision was made on: a later change may have been missed, and
	// calls for another reconcile (0: the bot does not exist).
	Revision int64
}

// Look is a bot as one read finds it, and what it needs.
type Look struct {
	// Revision is the bot's revision as read (0: the bot does not exist).
	Revision int64
	// Idle means the bot needs no step now: it only waits, until Next.
	Idle bool
	// NextCheck is the bot's next check as read; Next is when it is due
	// (nil: only on change). A wait whose Next differs moves the check.
	NextCheck, Next *time.Time
}

// Reconciler drives one bot towards its desired state.
type Reconciler struct {
	Store     Store
	Platforms map[string]platform.Platform
	Clock     clock.Clock
	Config    Config
	// PublicURL is the base URL bots call back.
	PublicURL string
	// Priority is PLATFORM_PRIORITY: where an attempt goes when its
	// platform has no capacity.
	Priority []PlatformLimit
	Logger   *zap.Logger
	// Metrics counts the terminal transitions this reconciler makes.
	Metrics *metrics.Metrics
	// LeadTime, when set, is how long before its join_at a scheduled bot is
	// admitted (the platforms' learned lead times); Config.JoinLeadTime is
	// the least.
	LeadTime func(ctx context.Context, b store.Bot) time.Duration
}

// Look reads the bot once and decides, acting on nothing and writing
// nothing: an idle bot (most wake-ups of a bot in a call) needs no lock and
// no further read.
func (r *Reconciler) Look(ctx context.Context, id uuid.UUID) (Look, error) {
	b, d, err := r.Store.LoadBot(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Look{}, nil
	}
	if err != nil {
		return Look{}, err
	}
	a := Decide(b, d, r.Clock.Now(), r.configFor(ctx, b))
	return Look{Revision: b.Revision, Idle: a.Kind == ActWait, NextCheck: b.NextCheckAt, Next: a.Next}, nil
}

// NextMoves reports whether the wait moves the bot's next check.
func (l Look) NextMoves() bool { return !sameTime(l.NextCheck, l.Next) }

// capacityRetry is how soon a bot asks a full platform again.
const capacityRetry = 2 * time.Second

// maxCreateBackoff caps the wait between failed creates of one attempt.
const maxCreateBackoff = 15 * time.Second

// maxSteps bounds one reconcile; each step changes a row, so a bot needs at
// most a handful (e.g. finish → stop → wait).
const maxSteps = 8

// Reconcile takes steps until the bot needs nothing more now. It is
// idempotent, and a bot that does not exist is not an error.
//
// Its Result carries the revision of its last read: each step reads the bot
// again, so a change made meanwhile (its own finish, which bumps the
// revision, or anyone's) was decided on already, and only a change after the
// last read calls for another reconcile.
func (r *Reconciler) Reconcile(ctx context.Context, id uuid.UUID) (Result, error) {
	var rev int64
	for range maxSteps {
		b, d, err := r.Store.LoadBot(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, nil
		}
		if err != nil {
			return Result{}, err
		}
		rev = b.Revision
		now := r.Clock.Now()
		a := Decide(b, d, now, r.configFor(ctx, b))
		if a.Kind == ActWait {
			res, err := r.wait(ctx, b, a.Next)
			res.Revision = rev
			return res, err
		}
		if res, done, err := r.act(ctx, b, d, a, now); done || err != nil {
			res.Revision = rev
			return res, err
		}
	}
	// Out of steps with work left: the resync comes back for it soon.
	at := r.Clock.Now().Add(capacityRetry)
	return Result{RequeueAt: at, Revision: rev}, r.Store.SetNextCheck(ctx, id, &at)
}

// configFor is the reconciler's config for b: a scheduled bot gets its
// platforms' lead time.
func (r *Reconciler) configFor(ctx context.Context, b store.Bot) Config {
	cfg := r.Config
	if b.Status == store.StatusScheduled && r.LeadTime != nil {
		cfg.JoinLeadTime = max(cfg.JoinLeadTime, r.LeadTime(ctx, b))
	}
	return cfg
}

func (r *Reconciler) wait(ctx context.Context, b store.Bot, next *time.Time) (Result, error) {
	if !sameTime(b.NextCheckAt, next) {
		if err := r.Store.SetNextCheck(ctx, b.ID, next); err != nil {
			return Result{}, err
		}
	}
	if next == nil {
		return Result{}, nil
	}
	return Result{RequeueAt: *next}, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// act performs one step; done means the reconcile stops here (backoff).
func (r *Reconciler) act(ctx context.Context, b store.Bot, d *store.Deployment, a Action, now time.Time) (Result, bool, error) {
	switch a.Kind {
	case ActQueue:
		r.log(b, d).Info("bot queued", zap.String("status", string(store.StatusQueued)))
		return Result{}, false, r.Store.QueueBot(ctx, b.ID, now)
	case ActCreate:
		return r.create(ctx, b, *d, now)
	case ActStop:
		return Result{}, false, r.stop(ctx, b, *d, now)
	case ActRetry:
		r.log(b, d).Info("workload exited before the call; new attempt", zap.Intp("exit_code", d.ExitCode),
			zap.String("status", string(store.StatusDeploying)), zap.String("reason", store.ReasonContainerExited))
		// The exited workload may still hold something (files, an
		// application): clean it up before its row goes.
		p, err := r.platformOf(*d)
		if err == nil {
			_, err = p.Stop(ctx, d.Name, deref(d.ExternalID))
		}
		if err != nil {
			return Result{}, true, fmt.Errorf("clean up exited workload %s: %w", d.Name, err)
		}
		_, err = r.Store.RetryAttempt(ctx, b.ID, d.Attempt, now)
		return Result{}, false, err
	case ActFinish:
		return Result{}, false, r.finish(ctx, b, d, a.Status, a.Reason, now)
	case ActForget:
		r.log(b, d).Info("workload gone")
		return Result{}, false, r.Store.MarkGone(ctx, b.ID, d.Attempt, now)
	}
	return Result{}, true, fmt.Errorf("bot: unknown action %v", a.Kind)
}

// finish ends the bot (absorbing: a bot already ended is left alone) and
// logs and counts the transition when it was this call that made it.
func (r *Reconciler) finish(ctx context.Context, b store.Bot, d *store.Deployment, status store.Status, reason string, now time.Time) error {
	finished, err := r.Store.FinishBot(ctx, b.ID, status, reason, now)
	if finished {
		r.log(b, d).Info("bot finished", zap.String("status", string(status)), zap.String("reason", reason))
		r.Metrics.BotFinished(string(status), reason)
	}
	return err
}

func (r *Reconciler) platformOf(d store.Deployment) (platform.Platform, error) {
	p, ok := r.Platforms[d.Platform]
	if !ok {
		return nil, fmt.Errorf("bot: deployment %s on unconfigured platform %q", d.Name, d.Platform)
	}
	return p, nil
}

// create creates the attempt's workload. Every try of one attempt sends the
// same name, token and environment, so a try that failed ambiguously (the
// platform acted, the answer was lost) is adopted by the next, and its
// workload holds a token that works. The token's hash is written before the
// workload learns the token.
func (r *Reconciler) create(ctx context.Context, b store.Bot, d store.Deployment, now time.Time) (Result, bool, error) {
	p, err := r.platformOf(d)
	if err != nil {
		return Result{}, true, err
	}
	c, err := r.Store.BeginCreate(ctx, b.ID, d.Attempt, "mbt_"+crand.Text(), now)
	if err != nil {
		return Result{}, true, err
	}
	ext, err := p.Create(ctx, platform.Workload{Name: d.Name, BotID: b.ID.String(), Attempt: d.Attempt,
		MeetingPlatform: b.MeetingPlatform, Env: r.botEnv(b, c.Token), Try: c.Try})
	if errors.Is(err, platform.ErrCapacity) {
		return r.noCapacity(ctx, b, d, err, now)
	}
	if err != nil {
		return r.createFailed(ctx, b, d, err, now)
	}
	r.log(b, &d).Info("workload created", zap.String("external_id", ext))
	return Result{}, false, r.Store.MarkRunning(ctx, b.ID, d.Attempt, ext, now)
}

// noCapacity is not a failure: the platform created nothing. The attempt
// moves to the next platform with room, or waits and asks again (a new
// create try), until its queue timeout.
func (r *Reconciler) noCapacity(ctx context.Context, b store.Bot, d store.Deployment, cause error, now time.Time) (Result, bool, error) {
	// Just moved here and refused too: every platform is full, so wait
	// rather than bounce between them.
	if d.MovedAt == nil || now.Sub(*d.MovedAt) >= capacityRetry {
		moved, err := r.Store.MoveAttempt(ctx, b.ID, d.Attempt, r.Priority, now)
		if err != nil || moved != "" {
			r.log(b, &d).Info("no capacity; attempt moved", zap.String("to", moved), zap.Error(cause))
			return Result{}, err != nil, err
		}
	}
	r.log(b, &d).Debug("no capacity on the platform yet; waiting", zap.Error(cause))
	at := now.Add(capacityRetry/2 + rand.N(capacityRetry/2))
	return Result{}, false, r.Store.RecordCapacityWait(ctx, b.ID, d.Attempt, cause.Error(), at, now)
}

// createFailed records the failure and backs off with jitter. A transient
// failure is retried until the deploy deadline (Decide ends the bot then);
// a permanent one ends the bot after MaxCreateErrors.
func (r *Reconciler) createFailed(ctx context.Context, b store.Bot, d store.Deployment, cause error, now time.Time) (Result, bool, error) {
	backoff := min(time.Second<<min(d.ErrorCount+1, 5), maxCreateBackoff)
	n, err := r.Store.RecordDeployError(ctx, b.ID, d.Attempt, cause.Error(), now.Add(backoff/2+rand.N(backoff/2)), now)
	if err != nil {
		return Result{}, true, err
	}
	r.log(b, &d).Warn("create failed", zap.Int("errors", n), zap.Bool("permanent", errors.Is(cause, platform.ErrPermanent)), zap.Error(cause))
	if errors.Is(cause, platform.ErrPermanent) && n >= r.Config.MaxCreateErrors {
		return Result{}, false, r.finish(ctx, b, &d, store.StatusFatal, store.ReasonPlatformError, now)
	}
	return Result{}, false, nil
}

// stop stops the live workload; the intent is recorded first. The capacity
// is released (GONE) when the platform says nothing is left, else once the
// observer sees the workload exited or absent.
func (r *Reconciler) stop(ctx context.Context, b store.Bot, d store.Deployment, now time.Time) error {
	p, err := r.platformOf(d)
	if err != nil {
		return err
	}
	if err := r.Store.MarkStopping(ctx, b.ID, d.Attempt, now); err != nil {
		return err
	}
	gone, err := p.Stop(ctx, d.Name, deref(d.ExternalID))
	if err != nil {
		return fmt.Errorf("stop %s: %w", d.Name, err)
	}
	if !gone {
		r.log(b, &d).Info("workload stopping")
		return nil
	}
	r.log(b, &d).Info("workload stopped")
	return r.Store.MarkGone(ctx, b.ID, d.Attempt, r.Clock.Now())
}

// botEnv is the whole environment a bot container gets: its identity, its
// meeting and a per-attempt token. No controller secret is ever in it.
func (r *Reconciler) botEnv(b store.Bot, token string) map[string]string {
	mode := "none"
	if b.Recording.Enabled {
		mode = b.Recording.Mode
	}
	return map[string]string{
		botproto.EnvBotID:           b.ID.String(),
		botproto.EnvMeetingURL:      b.MeetingURL,
		botproto.EnvMeetingPlatform: b.MeetingPlatform,
		botproto.EnvBotName:         b.BotName,
		botproto.EnvCallbackURL:     r.PublicURL,
		botproto.EnvRecordingMode:   mode,
		botproto.EnvAuthToken:       token,
	}
}

func (r *Reconciler) log(b store.Bot, d *store.Deployment) *zap.Logger {
	if d != nil {
		return r.Logger.With(zap.String("bot_id", b.ID.String()), zap.Int("attempt", d.Attempt), zap.String("platform", d.Platform))
	}
	return r.Logger.With(zap.String("bot_id", b.ID.String()), zap.Int("attempt", b.CurrentAttempt), zap.String("platform", deref(b.Platform)))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
