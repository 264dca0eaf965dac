package api

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/leadtime"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// Store is what the API needs of the database.
type Store interface {
	AuthenticateAPIKey(ctx context.Context, secret string) (string, error)
	IdempotentResponse(ctx context.Context, owner string, idem store.Idempotency) ([]byte, error)
	CreateBot(ctx context.Context, nb store.NewBot, idem *store.Idempotency, now time.Time, render func(store.Bot) ([]byte, error)) (store.CreateResult, error)
	GetBot(ctx context.Context, owner string, id uuid.UUID) (store.Bot, error)
	ListBots(ctx context.Context, owner string, f store.BotFilter) ([]store.Bot, error)
	ListEvents(ctx context.Context, owner string, id uuid.UUID, after int64, limit int) ([]store.Event, error)
	RequestStop(ctx context.Context, owner string, id uuid.UUID, mode store.StopMode, now time.Time) (store.Bot, error)
	PatchBot(ctx context.Context, owner string, id uuid.UUID, p store.BotPatch, now time.Time) (store.Bot, error)
	QueuePosition(ctx context.Context, b store.Bot) (int, error)

	AuthenticateBot(ctx context.Context, token string, botID uuid.UUID) (store.BotAuth, error)
	BotForAttempt(ctx context.Context, auth store.BotAuth) (store.Bot, error)
	FetchConfig(ctx context.Context, auth store.BotAuth, now time.Time) (store.Bot, bool, error)
	Heartbeat(ctx context.Context, token string, botID uuid.UUID, now time.Time) (store.HeartbeatResult, error)
	ReportStatus(ctx context.Context, auth store.BotAuth, to store.Status, reason string, now time.Time) (store.Bot, error)
	AddEvents(ctx context.Context, auth store.BotAuth, events []store.NewEvent, now time.Time, maxPerAttempt int) error
	RecordingUploaded(ctx context.Context, auth store.BotAuth, key string, size int64, now time.Time) (store.Bot, error)
	AttemptStart(ctx context.Context, auth store.BotAuth) (store.AttemptStart, error)

	SlotAssignment(ctx context.Context, appUUID, slotToken, newToken string, now time.Time) (store.Assignment, error)
	PoolStats(ctx context.Context, platform string) ([]store.PoolStats, error)
	PlatformsUsage(ctx context.Context) (map[string]int, int, error)
	TenantLimits(ctx context.Context, owner string) (store.TenantLimits, error)
}

// Config configures the server.
type Config struct {
	// MaxBodyBytes bounds every request body (default 64 KiB).
	MaxBodyBytes int64
	// MaxBotLifetime is when a bot is told to leave, from its deploy start.
	MaxBotLifetime time.Duration
	// BotHeartbeatInterval is what bots are told to beat at.
	BotHeartbeatInterval time.Duration
	// PoolPlatform names the platform whose deploying bots wait for pool
	// slots (the queue of GET /api/v1/pool).
	PoolPlatform string
	// SlotPollInterval is how often an idle (hot) slot container is told to
	// ask for work again (default 5 s, whole seconds): the most a hot slot
	// adds to a bot's start.
	SlotPollInterval time.Duration
	// Platforms are the deployment platforms in priority order.
	Platforms []PlatformLimit
	// LeaveTimeout is how long a bot told to leave may take: with
	// MaxBotLifetime, the longest a bot holds capacity.
	LeaveTimeout time.Duration
	// ReserveAhead: a bot whose join_at is at least this far ahead reserves
	// capacity for its window at create (0: never).
	ReserveAhead time.Duration
	// TenantDefaults are every tenant's limits unless it has its own
	// (tenant_limits): each API key's request rate, and the cap on the
	// tenant's unfinished bots. Zero values limit nothing.
	TenantDefaults store.Limits
	// MaxEventsPerAttempt bounds the timeline events one bot attempt may
	// post (default DefaultMaxEventsPerAttempt): a bot cannot flood its
	// tenant's timeline or the database.
	MaxEventsPerAttempt int
	// Callbacks is where a callback_url may point (CALLBACK_ALLOW): public
	// addresses, and what the operator allows.
	Callbacks webhook.Destinations
}

// LeadTimes is what the controller knows of the platforms' lead times.
type LeadTimes interface {
	// All is every estimate, for GET /api/v1/platforms.
	All(ctx context.Context) []leadtime.Lead
	// ForPlatform is how long before its join_at a scheduled bot is
	// admitted on platform.
	ForPlatform(ctx context.Context, platform string) time.Duration
}

// Server is the HTTP API.
type Server struct {
	Store  Store
	Clock  clock.Clock
	Config Config
	Logger *zap.Logger
	// Recordings is the recordings bucket; nil refuses bots that record.
	Recordings Recordings
	// Metrics records API requests and what bots report; nil records
	// nothing. /metrics is not served here but on its own listener.
	Metrics *metrics.Metrics
	// Ready reports whether the controller can serve (database, River).
	Ready func(ctx context.Context) error
	// LeadTimes, when set, reserves windows from the learned lead times and
	// shows them; nil reserves nothing.
	LeadTimes LeadTimes
}

// Handler returns the routed, instrumented handler.
func (s *Server) Handler() http.Handler {
	if s.Config.MaxBodyBytes == 0 {
		s.Config.MaxBodyBytes = 64 << 10
	}
	mux := http.NewServeMux()
	limiter := newRateLimiter(s.Store, s.Clock, s.Config.TenantDefaults, s.Logger)
	user := func(pattern string, h func(http.ResponseWriter, *http.Request, string)) {
		mux.Handle(pattern, s.withAPIKey(limiter.wrap(h)))
	}
	user("POST /api/v1/bots", s.createBot)
	user("GET /api/v1/bots", s.listBots)
	user("GET /api/v1/bots/{id}", s.getBot)
	user("PATCH /api/v1/bots/{id}", s.patchBot)
	user("GET /api/v1/bots/{id}/events", s.listEvents)
	user("POST /api/v1/bots/{id}/leave", s.stopBot(store.StopLeave))
	user("DELETE /api/v1/bots/{id}", s.stopBot(store.StopCancel))
	user("GET /api/v1/bots/{id}/recording", s.getRecording)
	user("GET /api/v1/pool", s.getPool)
	user("GET /api/v1/platforms", s.getPlatforms)
	user("GET /api/bots/pool-stats", s.getSeedPoolStats)
	mux.HandleFunc("GET /api/v1/openapi.yaml", serveOpenAPI)

	mux.HandleFunc("GET /bot/v1/config", s.withBot(s.botConfig))
	mux.HandleFunc("GET /bot/v1/assignment", s.assignment)
	mux.HandleFunc("POST /bot/v1/heartbeat", s.heartbeat)
	mux.HandleFunc("POST /bot/v1/status", s.withBot(s.botStatus))
	mux.HandleFunc("POST /bot/v1/events", s.withBot(s.botEvents))
	mux.HandleFunc("POST /bot/v1/recording", s.withBot(s.botRecording))
	mux.HandleFunc("POST /bot/v1/recording/complete", s.withFinishingBot(s.botRecordingComplete))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeProblem(w, http.StatusNotFound, "no such endpoint") })
	return withRequestID(s.logRequests(s.recoverPanics(s.limitBody(mux))))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			s.Logger.Warn("not ready", zap.Error(err))
			writeProblem(w, http.StatusServiceUnavailable, "not ready: the database or the controller is unavailable")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.Config.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, path, status and duration — never headers or
// bodies, which carry keys and tokens.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		// The mux set r.Pattern: a route, never a raw path, so labels stay few.
		s.Metrics.HTTPRequest(cmp.Or(r.Pattern, "unmatched"), rec.status, time.Since(start))
		level := zap.DebugLevel
		if rec.status >= 500 {
			level = zap.ErrorLevel
		}
		s.Logger.Log(level, "http request", zap.String("request_id", requestID(r.Context())),
			zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", rec.status), zap.Duration("duration", time.Since(start)))
	})
}
