package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// QueueWebhook holds webhook deliveries: a queue of their own, so a slow or
// dead receiver only ever occupies webhook workers, never a reconcile.
const QueueWebhook = "webhook"

// Webhook targets, as recorded in delivery events.
const (
	TargetCallback = "callback" // the bot's callback_url
	TargetGlobal   = "global"   // WEBHOOK_URL
)

// WebhookArgs is one status-change event for one receiver. The body is
// rendered once, at the change, so every retry sends the same bytes (and a
// receiver sees the bot as it was when the event happened).
type WebhookArgs struct {
	EventID int64     `json:"event_id"`
	BotID   uuid.UUID `json:"bot_id"`
	// Owner is the bot's tenant, whose secrets sign its callbacks.
	Owner  string `json:"owner"`
	Target string `json:"target"`
	URL    string `json:"url"`
	// Body is stored base64 ([]byte), not as JSON: jsonb would reorder it.
	Body []byte `json:"body"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "webhook" }

// InsertOpts implements river.JobArgsWithInsertOpts. Attempts are bounded by
// the retry window (the worker cancels the job), not by a count.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhook, MaxAttempts: 1000}
}

// WebhookTargets says where status changes go.
type WebhookTargets struct {
	// URL receives every bot's changes (WEBHOOK_URL); empty for none.
	URL string
	// Render is the bot as the user API shows it. Nil disables webhooks.
	Render func(store.Bot) ([]byte, error)
}

// EnqueueStatusChangeTx implements store.Enqueuer: one delivery job per
// receiver, in the transaction of the change itself.
func (e *Enqueuer) EnqueueStatusChangeTx(ctx context.Context, tx pgx.Tx, ch store.StatusChange) error {
	jobs := e.webhookJobs(ch.Bot)
	if len(jobs) == 0 {
		return nil
	}
	body, err := e.webhookBody(ch)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, job := range jobs {
		job.EventID, job.BotID, job.Owner, job.Body = ch.EventID, ch.Bot.ID, ch.Bot.Owner, body
		params[i] = river.InsertManyParams{Args: job}
	}
	if _, err = e.client.InsertManyTx(ctx, tx, params); err != nil {
		return err
	}
	return e.notified.afterInsertTx(ctx, tx, QueueWebhook, e.FetchCooldown)
}

// webhookJobs are the receivers of b's changes: its callback_url, and
// WEBHOOK_URL.
func (e *Enqueuer) webhookJobs(b store.Bot) []WebhookArgs {
	if e.Webhooks.Render == nil {
		return nil
	}
	var jobs []WebhookArgs
	if b.CallbackURL != nil && *b.CallbackURL != "" {
		jobs = append(jobs, WebhookArgs{Target: TargetCallback, URL: *b.CallbackURL})
	}
	if e.Webhooks.URL != "" {
		jobs = append(jobs, WebhookArgs{Target: TargetGlobal, URL: e.Webhooks.URL})
	}
	return jobs
}

func (e *Enqueuer) webhookBody(ch store.StatusChange) ([]byte, error) {
	bot, err := e.Webhooks.Render(ch.Bot)
	if err != nil {
		return nil, err
	}
	return json.Marshal(webhook.Payload{EventID: strconv.FormatInt(ch.EventID, 10), Type: webhook.TypeStatusChanged,
		BotID: ch.Bot.ID.String(), Status: string(ch.Bot.Status), StatusReason: ch.Bot.StatusReason,
		OccurredAt: ch.OccurredAt.UTC(), Bot: bot})
}

// WebhookConfig configures deliveries.
type WebhookConfig struct {
	// Sender delivers to bots' callback URLs, which tenants choose: its
	// Destinations keep them out of our network.
	Sender *webhook.Sender
	// Operator delivers to WEBHOOK_URL, which the operator chose, wherever
	// it is (default: Sender).
	Operator *webhook.Sender
	// Window is how long a failing delivery is retried (default 24 h).
	Window time.Duration
	// RetryBase is the first backoff (default 10 s), doubled up to an hour.
	RetryBase time.Duration
	// Workers is the webhook queue's concurrency (default 200).
	Workers int
	// SecretTTL is how long a tenant's secrets are cached between
	// deliveries (default 10 s; a rotation's overlap is far longer).
	SecretTTL time.Duration
	// Gate caps deliveries in flight per tenant and per receiver and parks
	// those to a dead receiver (default: DefaultGate(Workers)).
	Gate *webhook.Gate
}

// DefaultGate is the gate of a webhook queue with workers: a tenant may
// hold a quarter of the workers, a receiver host half of them (one over its
// cap waits up to 100 ms in its worker for a slot, then a second outside),
// and five failures in a row park a receiver for 30 s, doubling up to
// 10 min.
func DefaultGate(workers int) *webhook.Gate {
	return &webhook.Gate{PerTenant: max(workers/4, 1), PerHost: max(workers/2, 1), BreakAfter: 5,
		Cooldown: 30 * time.Second, MaxCooldown: 10 * time.Minute, Patience: 100 * time.Millisecond, Wait: time.Second}
}

// WebhookStore is what deliveries need of the store: the bot's timeline,
// and its tenant's signing secrets.
type WebhookStore interface {
	AddBotEvent(ctx context.Context, id uuid.UUID, typ string, data any, now time.Time) error
	AddBotEvents(ctx context.Context, events []store.ControllerEvent) error
	SigningSecrets(ctx context.Context, owner string, now time.Time) ([]string, error)
	EnsureWebhookSecret(ctx context.Context, owner, newSecret string, now time.Time) (bool, error)
}

// WebhookWorker delivers one event to one receiver, records the attempt in
// the bot's events, and retries with exponential backoff until the window
// closes. A receiver's 4xx (other than 408/429) is final: retrying the same
// bytes cannot change its answer.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Config  WebhookConfig
	Store   WebhookStore
	Clock   clock.Clock
	Metrics *metrics.Metrics
	// Logger notes a tenant given a secret at delivery; nil logs nothing.
	Logger *zap.Logger

	secrets    secretCache
	eventsOnce sync.Once
	events     eventBatcher
}

// recordEvent adds a delivery's record to its bot's timeline, batched with
// the records of the deliveries finishing at the same time.
func (w *WebhookWorker) recordEvent(ev store.ControllerEvent) error {
	w.eventsOnce.Do(func() { w.events.write = w.Store.AddBotEvents })
	return w.events.add(ev)
}

// Work implements river.Worker. A delivery the gate holds back (its
// tenant or receiver at its cap, or the receiver's breaker open) is
// snoozed: it waits without a worker and without using an attempt.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	tenant, host := gateKeys(job.Args)
	v := w.Config.Gate.AdmitWithin(ctx, tenant, host, w.Clock.Now)
	if v.Wait > 0 {
		return w.hold(ctx, job, v)
	}
	sender, secrets, err := w.signer(ctx, job.Args)
	if err != nil {
		w.Config.Gate.Done(tenant, host, v, false, w.Clock.Now())
		return err
	}
	res, sendErr := sender.SendSigned(ctx, job.Args.URL, job.Args.Body, secrets)
	now := w.Clock.Now()
	w.Config.Gate.Done(tenant, host, v, sendErr != nil && res.Retryable && res.Reason != webhook.ReasonAborted, now)
	return w.record(job, res, sendErr, now)
}

// gateKeys are who a delivery is for (its tenant; the operator for
// WEBHOOK_URL) and the receiver it goes to.
func gateKeys(a WebhookArgs) (tenant, host string) {
	tenant = "tenant:" + a.Owner
	if a.Target == TargetGlobal {
		tenant = "operator"
	}
	if u, err := url.Parse(a.URL); err == nil {
		host = strings.ToLower(u.Host)
	}
	return tenant, host
}

// hold snoozes a delivery the gate holds back; one parked by a dead
// receiver's breaker past the retry window gives up.
func (w *WebhookWorker) hold(ctx context.Context, job *river.Job[WebhookArgs], v webhook.Verdict) error {
	now := w.Clock.Now()
	if !v.Parked {
		w.Metrics.WebhookDelivery(job.Args.Target, "deferred")
		return river.JobSnooze(v.Wait)
	}
	if now.Add(v.Wait).Sub(job.CreatedAt) <= w.Config.Window {
		w.Metrics.WebhookDelivery(job.Args.Target, "parked")
		return river.JobSnooze(v.Wait)
	}
	data := map[string]any{"event_id": strconv.FormatInt(job.Args.EventID, 10), "target": job.Args.Target,
		"attempt": job.Attempt, "outcome": "gave_up", "reason": "receiver_unavailable"}
	w.Metrics.WebhookDelivery(job.Args.Target, "gave_up")
	if err := w.Store.AddBotEvent(ctx, job.Args.BotID, "WEBHOOK_DELIVERY", data, now); err != nil {
		return err
	}
	return river.JobCancel(errors.New("webhook: receiver unavailable for the whole retry window"))
}

// record writes the attempt to the bot's timeline and tells River what
// comes next.
func (w *WebhookWorker) record(job *river.Job[WebhookArgs], res webhook.Result, sendErr error, now time.Time) error {
	outcome := "delivered"
	if sendErr != nil {
		outcome = "retrying"
		nominal := webhook.Backoff(job.Attempt, w.Config.RetryBase, 0, func() float64 { return 0.5 })
		if !res.Retryable || webhook.GiveUp(job.CreatedAt, now, nominal, w.Config.Window) {
			outcome = "gave_up"
		}
	}
	data := map[string]any{"event_id": strconv.FormatInt(job.Args.EventID, 10), "target": job.Args.Target,
		"attempt": job.Attempt, "outcome": outcome, "status_code": res.StatusCode, "duration_ms": res.Duration.Milliseconds()}
	if res.Reason != "" {
		data["reason"] = res.Reason // a code: the network error's text would make deliveries a port scanner
	}
	w.Metrics.WebhookDelivery(job.Args.Target, outcome)
	if err := w.recordEvent(store.ControllerEvent{BotID: job.Args.BotID, Type: "WEBHOOK_DELIVERY", Data: data, OccurredAt: now}); err != nil {
		return err
	}
	if outcome == "gave_up" {
		return river.JobCancel(sendErr)
	}
	return sendErr
}

// signer is who sends a delivery and the secrets that sign it: the
// operator's WEBHOOK_URL gets WEBHOOK_SECRET, a callback_url its tenant's
// secrets (never one another tenant could sign with).
func (w *WebhookWorker) signer(ctx context.Context, a WebhookArgs) (*webhook.Sender, [][]byte, error) {
	if a.Target == TargetGlobal {
		s := cmp.Or(w.Config.Operator, w.Config.Sender)
		if len(s.Secret) == 0 {
			return s, nil, nil
		}
		return s, [][]byte{s.Secret}, nil
	}
	secrets, err := w.tenantSecrets(ctx, a.Owner)
	return w.Config.Sender, secrets, err
}

// tenantSecrets are the owner's signing secrets, cached for a few seconds
// (a rotation keeps the old one signing far longer). A tenant from before
// per-tenant secrets gets one now: `meeboter webhook-secret rotate` shows a
// new one to give it.
func (w *WebhookWorker) tenantSecrets(ctx context.Context, owner string) ([][]byte, error) {
	now := w.Clock.Now()
	if s, ok := w.secrets.get(owner, now, w.Config.SecretTTL); ok {
		return s, nil
	}
	list, err := w.Store.SigningSecrets(ctx, owner, now)
	if err == nil && len(list) == 0 {
		if _, err = w.Store.EnsureWebhookSecret(ctx, owner, webhook.NewSecret(), now); err == nil {
			if w.Logger != nil {
				w.Logger.Warn("tenant had no webhook signing secret: one was made; rotate it to show it", zap.String("owner", owner))
			}
			list, err = w.Store.SigningSecrets(ctx, owner, now)
		}
	}
	if err != nil {
		return nil, err
	}
	secrets := make([][]byte, len(list))
	for i, s := range list {
		secrets[i] = []byte(s)
	}
	w.secrets.put(owner, secrets, now)
	return secrets, nil
}

// secretCache holds tenants' secrets for a while.
type secretCache struct {
	mu      sync.Mutex
	entries map[string]cachedSecrets
}

type cachedSecrets struct {
	secrets [][]byte
	at      time.Time
}

func (c *secretCache) get(owner string, now time.Time, ttl time.Duration) ([][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[owner]
	return e.secrets, ok && now.Sub(e.at) < ttl
}

func (c *secretCache) put(owner string, secrets [][]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedSecrets{}
	}
	c.entries[owner] = cachedSecrets{secrets, now}
}

// NextRetry implements river.Worker: the webhook backoff, not River's.
func (w *WebhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return time.Now().Add(webhook.Backoff(job.Attempt, w.Config.RetryBase, 0, nil))
}

// Timeout implements river.Worker: one attempt's HTTP timeout plus the
// event write.
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return w.Config.Sender.Timeout + 5*time.Second
}
