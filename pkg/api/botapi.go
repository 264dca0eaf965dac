package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
)

// botCredentials reads the bearer token and the claimed bot id.
func botCredentials(r *http.Request) (string, uuid.UUID, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return "", uuid.Nil, false
	}
	id, err := uuid.Parse(r.Header.Get(botproto.HeaderBotID))
	return token, id, err == nil
}

// writeBotAuthError maps an authentication failure to 401/403/409; it never
// says anything about the bot itself.
func (s *Server) writeBotAuthError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		writeProblem(w, http.StatusUnauthorized, "invalid bot token")
	case errors.Is(err, store.ErrForbidden):
		writeProblem(w, http.StatusForbidden, "this token belongs to another bot")
	case errors.Is(err, store.ErrStaleAttempt):
		writeProblem(w, http.StatusConflict, "this token belongs to an earlier attempt of the bot; this container must exit")
	case errors.Is(err, store.ErrBotEnded):
		writeProblem(w, http.StatusConflict, store.ErrBotEnded.Error())
	case errors.Is(err, store.ErrDeploymentGone):
		writeProblem(w, http.StatusGone, store.ErrDeploymentGone.Error())
	default:
		s.internal(w, err)
	}
}

// receivedKey holds when a bot request arrived in its context.
type receivedKey struct{}

// receivedAt is when a bot request arrived: what a status report is
// recorded at, so the time it waited for authentication and a connection
// under load does not make a bot that entered on time look late.
func receivedAt(r *http.Request, clk clock.Clock) time.Time {
	if t, ok := r.Context().Value(receivedKey{}).(time.Time); ok {
		return t
	}
	return clk.Now()
}

// withBot authenticates a bot route and fences it: once the attempt's bot
// has ended (409) or its deployment is gone (410), its token writes and
// reads nothing more.
func (s *Server) withBot(h func(http.ResponseWriter, *http.Request, store.BotAuth)) http.HandlerFunc {
	return s.withBotFenced(h, store.BotAuth.Fenced)
}

// withFinishingBot is withBot for what a finishing upload needs (recording
// complete): only a gone deployment is fenced, and the route's own rules
// decide what an ended bot may still do.
func (s *Server) withFinishingBot(h func(http.ResponseWriter, *http.Request, store.BotAuth)) http.HandlerFunc {
	return s.withBotFenced(h, func(a store.BotAuth) error {
		if a.Deployment == store.DeploymentGone {
			return store.ErrDeploymentGone
		}
		return nil
	})
}

func (s *Server) withBotFenced(h func(http.ResponseWriter, *http.Request, store.BotAuth), fence func(store.BotAuth) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), receivedKey{}, s.Clock.Now()))
		token, id, ok := botCredentials(r)
		if !ok {
			writeProblem(w, http.StatusUnauthorized, "send Authorization: Bearer <MILO_AUTH_TOKEN> and "+botproto.HeaderBotID)
			return
		}
		auth, err := s.Store.AuthenticateBot(r.Context(), token, id)
		if err == nil {
			err = fence(auth)
		}
		if err != nil {
			s.writeBotAuthError(w, err)
			return
		}
		h(w, r, auth)
	}
}

func (s *Server) botConfig(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	b, restarted, err := s.Store.FetchConfig(r.Context(), auth, s.Clock.Now())
	if err != nil {
		s.internal(w, err)
		return
	}
	cfg := s.configFor(b, auth)
	if restarted {
		s.logRestart(b, auth)
		cfg.ShouldExit, cfg.ExitReason = true, restartedReason
	}
	writeJSON(w, http.StatusOK, cfg)
}

// restartedReason is what a container that started again mid-meeting is told.
const restartedReason = "this container started again after its meeting had begun; its attempt has ended"

func (s *Server) logRestart(b store.Bot, auth store.BotAuth) {
	s.Logger.Info("bot container restarted mid-meeting; attempt ended", zap.String("bot_id", b.ID.String()),
		zap.Int("attempt", auth.Attempt), zap.String("platform", deref(b.Platform)), zap.String("status", string(b.Status)))
}

// configFor is what a bot attempt is told to do.
func (s *Server) configFor(b store.Bot, auth store.BotAuth) botproto.Config {
	cfg := botproto.Config{BotID: b.ID.String(), Attempt: auth.Attempt, MeetingURL: b.MeetingURL,
		MeetingPlatform: b.MeetingPlatform, BotName: b.BotName, JoinAt: b.JoinAt,
		AutomaticLeave: botproto.AutomaticLeave(b.AutomaticLeave),
		Recording:      botproto.Recording(b.Recording),
		// Whole seconds on the wire; never 0, which a bot reads as "use your default".
		HeartbeatIntervalSeconds: max(1, int(math.Ceil(s.Config.BotHeartbeatInterval.Seconds()))),
	}
	_ = json.Unmarshal(b.Metadata, &cfg.Metadata)
	if leaveAt, ok := b.LeaveAt(s.Config.MaxBotLifetime); ok {
		cfg.LeaveAt = &leaveAt
	}
	if b.Status.Terminal() || b.Desired == store.DesiredStopped {
		cfg.ShouldExit, cfg.ExitReason = true, "the bot is "+strings.ToLower(string(b.Status))
		if b.Desired == store.DesiredStopped && !b.Status.Terminal() {
			cfg.ExitReason = "the bot was asked to stop"
		}
	}
	return cfg
}

// heartbeat is the hot path (10,000 bots every 10 s): one UPDATE.
func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	token, id, ok := botCredentials(r)
	if !ok {
		writeProblem(w, http.StatusUnauthorized, "send Authorization: Bearer <MILO_AUTH_TOKEN> and "+botproto.HeaderBotID)
		return
	}
	now := s.Clock.Now()
	hb, err := s.Store.Heartbeat(r.Context(), token, id, now)
	if err != nil {
		s.writeBotAuthError(w, err)
		return
	}
	leaveAt, deployed := store.LeaveAt(hb.DeployStartedAt, hb.JoinAt, hb.MaxDurationSeconds, s.Config.MaxBotLifetime)
	leave := hb.Desired == store.DesiredStopped || hb.Status == store.StatusLeaving || hb.Status.Terminal() ||
		(deployed && !now.Before(leaveAt))
	writeJSON(w, http.StatusOK, botproto.HeartbeatResponse{ShouldLeave: leave, Status: botproto.Status(hb.Status)})
}

var reasonCode = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

func (s *Server) botStatus(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	var req botproto.StatusRequest
	if !decodeBotBody(w, r, &req) {
		return
	}
	to := store.Status(req.Status)
	if req.Status == "CALL_ENDED" || req.Status == "ENDED" {
		to = store.StatusLeaving // the bot is finishing
	}
	if !botproto.Status(to).Valid() {
		writeProblem(w, http.StatusUnprocessableEntity, "unknown status", FieldError{"status", "must be one of READY, JOINING_CALL, IN_WAITING_ROOM, IN_CALL, LEAVING, DONE, FATAL"})
		return
	}
	if req.Reason != "" && !reasonCode.MatchString(req.Reason) {
		writeProblem(w, http.StatusUnprocessableEntity, "invalid reason", FieldError{"reason", "must match [a-z0-9_]{1,64}"})
		return
	}
	now := receivedAt(r, s.Clock)
	b, err := s.Store.ReportStatus(r.Context(), auth, to, req.Reason, now)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrStaleAttempt):
		writeProblem(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	s.Logger.Info("bot reported status", zap.String("bot_id", b.ID.String()), zap.Int("attempt", auth.Attempt),
		zap.String("platform", deref(b.Platform)), zap.String("status", string(b.Status)), zap.String("reason", deref(b.StatusReason)),
		zap.String("reported_reason", req.Reason))
	s.observeStatus(r.Context(), auth, b, to, now)
	writeJSON(w, http.StatusOK, botproto.StatusResponse{Status: botproto.Status(b.Status)})
}

// observeStatus feeds the latency histograms and finish counters with what
// this report changed (a repeated report changes nothing, and counts nothing).
func (s *Server) observeStatus(ctx context.Context, auth store.BotAuth, b store.Bot, reported store.Status, now time.Time) {
	// Postgres keeps microseconds (pgx truncates): that is how "now" reads back.
	now = now.Truncate(time.Microsecond)
	switch {
	case s.Metrics == nil || !b.UpdatedAt.Equal(now):
		return
	case b.Status.Terminal():
		s.Metrics.BotFinished(string(b.Status), deref(b.StatusReason))
		return
	case b.Status != reported:
		return
	}
	platform := deref(b.Platform)
	if b.EnteredAt != nil && b.EnteredAt.Equal(now) && b.JoinAt != nil {
		s.Metrics.ObserveLateness(platform, now.Sub(*b.JoinAt))
	}
	if reported != store.StatusReady && reported != store.StatusJoiningCall && reported != store.StatusInCall {
		return
	}
	start, err := s.Store.AttemptStart(ctx, auth)
	if err != nil {
		s.Logger.Warn("metrics: attempt start", zap.Error(err))
		return
	}
	if start.ReadyAt != nil && start.ReadyAt.Equal(now) {
		s.Metrics.ObserveDeploy(platform, start.Warm, now.Sub(start.CreatedAt))
	}
	if reported == store.StatusInCall && b.JoinedAt != nil && b.JoinedAt.Equal(now) {
		from := b.CreatedAt
		if b.JoinAt != nil && b.JoinAt.After(from) {
			from = *b.JoinAt
		}
		s.Metrics.ObserveInCall(platform, start.Warm, now.Sub(from))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var eventType = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

const maxEventsPerBatch = 100

// DefaultMaxEventsPerAttempt is Config.MaxEventsPerAttempt when unset: far
// more than a long meeting's joins and leaves, far fewer than a flood.
const DefaultMaxEventsPerAttempt = 1000

func (s *Server) botEvents(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	var req botproto.EventsRequest
	if !decodeBotBody(w, r, &req) {
		return
	}
	if len(req.Events) == 0 || len(req.Events) > maxEventsPerBatch {
		writeProblem(w, http.StatusUnprocessableEntity, "invalid events", FieldError{"events", "must hold 1 to 100 events"})
		return
	}
	events, ok := botEventsOf(w, req.Events)
	if !ok {
		return
	}
	err := s.Store.AddEvents(r.Context(), auth, events, s.Clock.Now(), cmp.Or(s.Config.MaxEventsPerAttempt, DefaultMaxEventsPerAttempt))
	switch {
	case errors.Is(err, store.ErrTooManyEvents):
		// 409, not 429: waiting does not help, and a client retries a 429.
		writeProblem(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "store: add events: "))
	case errors.Is(err, store.ErrBotEnded), errors.Is(err, store.ErrDeploymentGone), errors.Is(err, store.ErrStaleAttempt):
		s.writeBotAuthError(w, err)
	case err != nil:
		s.internal(w, err)
	default:
		writeJSON(w, http.StatusOK, botproto.EventsResponse{Accepted: len(events)})
	}
}

// botEventsOf validates a batch; false means a problem was written. The
// times are clamped by the store, which knows the attempt's lifetime.
func botEventsOf(w http.ResponseWriter, in []botproto.Event) ([]store.NewEvent, bool) {
	events := make([]store.NewEvent, len(in))
	for i, e := range in {
		if !eventType.MatchString(e.Type) {
			writeProblem(w, http.StatusUnprocessableEntity, "invalid event", FieldError{"events.type", "must match [A-Z][A-Z0-9_]{0,63}"})
			return nil, false
		}
		if botproto.ControllerEventType(e.Type) {
			writeProblem(w, http.StatusUnprocessableEntity, "invalid event", FieldError{"events.type",
				e.Type + " is written only by the controller; a bot reports status through " + botproto.PathStatus})
			return nil, false
		}
		data, _ := json.Marshal(e.Data)
		if e.Data == nil {
			data = []byte("{}")
		}
		if bytes.Contains(data, []byte(`\u0000`)) {
			writeProblem(w, http.StatusUnprocessableEntity, "invalid event", FieldError{"events.data", "must not contain NUL characters"})
			return nil, false
		}
		events[i] = store.NewEvent{Type: e.Type, OccurredAt: e.OccurredAt, Data: data}
	}
	return events, true
}

// decodeBotBody decodes a strict JSON body; false means a problem was written.
func decodeBotBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	return true
}
