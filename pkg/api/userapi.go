package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/store"
)

// BotView is a bot as the user API shows it.
type BotView struct {
	ID              uuid.UUID  `json:"id"`
	MeetingURL      string     `json:"meeting_url"`
	MeetingPlatform string     `json:"meeting_platform"`
	BotName         string     `json:"bot_name"`
	JoinAt          *time.Time `json:"join_at"`
	// MaxDurationSeconds bounds the bot's stay: it is told to leave this
	// long after join_at (after its start without one), or at
	// MAX_BOT_LIFETIME, whichever comes first. Null: MAX_BOT_LIFETIME.
	MaxDurationSeconds *int                 `json:"max_duration_seconds"`
	AutomaticLeave     store.AutomaticLeave `json:"automatic_leave"`
	Recording          store.Recording      `json:"recording"`
	Metadata           json.RawMessage      `json:"metadata"`
	CallbackURL        *string              `json:"callback_url"`
	Desired            store.Desired        `json:"desired"`
	StopMode           *store.StopMode      `json:"stop_mode"`
	Status             store.Status         `json:"status"`
	StatusReason       *string              `json:"status_reason"`
	Generation         int64                `json:"generation"`
	ObservedGeneration int64                `json:"observed_generation"`
	Platform           *string              `json:"platform"`
	Attempt            int                  `json:"attempt"`
	LastHeartbeatAt    *time.Time           `json:"last_heartbeat_at"`
	CreatedAt          time.Time            `json:"created_at"`
	QueuedAt           *time.Time           `json:"queued_at"`
	DeployStartedAt    *time.Time           `json:"deploy_started_at"`
	JoinedAt           *time.Time           `json:"joined_at"`
	// EnteredAt is when the bot began entering its meeting (its first
	// JOINING_CALL); JoinLatenessSeconds is EnteredAt - JoinAt for a
	// scheduled bot (negative: early).
	EnteredAt           *time.Time `json:"entered_at"`
	JoinLatenessSeconds *float64   `json:"join_lateness_seconds"`
	EndedAt             *time.Time `json:"ended_at"`
	// CapacityReserved says whether capacity is guaranteed for the bot's
	// window (a bot scheduled RESERVE_AHEAD or more ahead, while a platform
	// can guarantee it); Reservation is that window.
	CapacityReserved bool             `json:"capacity_reserved"`
	Reservation      *ReservationView `json:"reservation"`
	// QueuePosition is a QUEUED bot's place in the queue (1: next), shown by
	// every answer about one bot but the create answer (stored as first
	// given, for replays).
	QueuePosition *int `json:"queue_position,omitempty"`
	// RecordingSizeBytes is set once the recording is uploaded and verified
	// (GET /api/v1/bots/{id}/recording then serves it).
	RecordingSizeBytes *int64 `json:"recording_size_bytes"`
}

// RenderBot is the JSON of a bot as the user API shows it (webhooks send
// the same).
func RenderBot(b store.Bot) ([]byte, error) { return json.Marshal(viewOf(b)) }

func viewOf(b store.Bot) BotView {
	return BotView{ID: b.ID, MeetingURL: b.MeetingURL, MeetingPlatform: b.MeetingPlatform, BotName: b.BotName,
		JoinAt: b.JoinAt, MaxDurationSeconds: b.MaxDurationSeconds, AutomaticLeave: b.AutomaticLeave, Recording: b.Recording, Metadata: b.Metadata,
		CallbackURL: b.CallbackURL, Desired: b.Desired, StopMode: b.StopMode, Status: b.Status,
		StatusReason: b.StatusReason, Generation: b.Generation, ObservedGeneration: b.ObservedGeneration,
		Platform: b.Platform, Attempt: b.CurrentAttempt, LastHeartbeatAt: b.LastHeartbeatAt, CreatedAt: b.CreatedAt,
		QueuedAt: b.QueuedAt, DeployStartedAt: b.DeployStartedAt, JoinedAt: b.JoinedAt, EndedAt: b.EndedAt,
		EnteredAt: b.EnteredAt, JoinLatenessSeconds: lateness(b), RecordingSizeBytes: b.RecordingSize,
		CapacityReserved: b.ReservedPlatform != nil, Reservation: reservationOf(b)}
}

func lateness(b store.Bot) *float64 {
	if b.EnteredAt == nil || b.JoinAt == nil {
		return nil
	}
	s := b.EnteredAt.Sub(*b.JoinAt).Seconds()
	return &s
}

// apiKeyFrom reads "Authorization: Bearer <key>" or "X-API-Key: <key>".
func apiKeyFrom(r *http.Request) string {
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

func (s *Server) withAPIKey(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := apiKeyFrom(r)
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meeboter"`)
			writeProblem(w, http.StatusUnauthorized, "missing API key: send Authorization: Bearer <key> or X-API-Key")
			return
		}
		owner, err := s.Store.AuthenticateAPIKey(r.Context(), key)
		if errors.Is(err, store.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meeboter", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "invalid or revoked API key")
			return
		}
		if err != nil {
			s.internal(w, err)
			return
		}
		h(w, r, owner)
	})
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.Logger.Error("internal error", zap.Error(err))
	writeProblem(w, http.StatusInternalServerError, "internal error")
}

// readBody reads a bounded body; false means a problem was written.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
		return nil, false
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "cannot read request body")
		return nil, false
	}
	return body, true
}

const maxIdempotencyKey = 255

func (s *Server) createBot(w http.ResponseWriter, r *http.Request, owner string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var idem *store.Idempotency
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > maxIdempotencyKey {
			writeProblem(w, http.StatusBadRequest, "Idempotency-Key longer than 255 characters")
			return
		}
		sum := sha256.Sum256(body)
		idem = &store.Idempotency{Key: key, RequestHash: sum[:]}
		replay, err := s.Store.IdempotentResponse(r.Context(), owner, *idem)
		if s.writeCreateConflict(w, err) {
			return
		}
		if replay != nil {
			writeReplay(w, replay)
			return
		}
	}
	now := s.Clock.Now()
	nb, fields, err := DecodeCreateBot(body, owner, now)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	fields = append(fields, s.callbackFields(nb.CallbackURL)...)
	nb.Reserve = s.reservations(r.Context(), nb.JoinAt, nb.MaxDurationSeconds, now)
	nb.MaxBots = s.Config.TenantDefaults.MaxBots
	if nb.Recording.Enabled && s.Recordings == nil {
		fields = append(fields, FieldError{"recording.enabled", "this server stores no recordings (S3_ENDPOINT is not set)"})
	}
	if len(fields) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "the bot is not valid", fields...)
		return
	}
	res, err := s.Store.CreateBot(r.Context(), nb, idem, now, RenderBot)
	if s.writeCreateConflict(w, err) {
		return
	}
	if res.Replayed {
		writeReplay(w, res.Response)
		return
	}
	s.Logger.Info("bot created", zap.String("bot_id", res.Bot.ID.String()), zap.Int("attempt", 0), zap.String("platform", ""),
		zap.String("owner", owner), zap.String("status", string(res.Bot.Status)),
		zap.Bool("capacity_reserved", res.Bot.ReservedPlatform != nil))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(append(res.Response, '\n'))
}

// writeReplay answers with the stored first response of an idempotent create.
func writeReplay(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(append(body, '\n'))
}

// writeCreateConflict writes the answer to a failed create; false means err was nil.
func (s *Server) writeCreateConflict(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrOverCap):
		writeProblem(w, http.StatusTooManyRequests, err.Error()+": wait for some to end, or ask the operator to raise it")
	case errors.Is(err, store.ErrConflict):
		writeProblem(w, http.StatusConflict, err.Error())
	default:
		s.internal(w, err)
	}
	return true
}

func (s *Server) pathID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, http.StatusNotFound, "no such bot")
		return id, false
	}
	return id, true
}

func (s *Server) getBot(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	b, err := s.Store.GetBot(r.Context(), owner, id)
	s.writeBot(r.Context(), w, http.StatusOK, b, err)
}

// writeBot answers with b, and its queue position when it is QUEUED.
func (s *Server) writeBot(ctx context.Context, w http.ResponseWriter, status int, b store.Bot, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no such bot")
	case err != nil:
		s.internal(w, err)
	default:
		view := viewOf(b)
		if b.Status == store.StatusQueued {
			pos, err := s.Store.QueuePosition(ctx, b)
			if err != nil {
				s.internal(w, err)
				return
			}
			view.QueuePosition = &pos
		}
		writeJSON(w, status, view)
	}
}

func (s *Server) stopBot(mode store.StopMode) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, owner string) {
		id, ok := s.pathID(w, r)
		if !ok {
			return
		}
		b, err := s.Store.RequestStop(r.Context(), owner, id, mode, s.Clock.Now())
		if err == nil {
			s.Logger.Info("bot stop requested", zap.String("bot_id", id.String()), zap.String("mode", string(mode)))
		}
		s.writeBot(r.Context(), w, http.StatusAccepted, b, err)
	}
}

// BotList is a page of bots.
type BotList struct {
	Bots       []BotView `json:"bots"`
	NextCursor *string   `json:"next_cursor"`
}

func (s *Server) listBots(w http.ResponseWriter, r *http.Request, owner string) {
	q := r.URL.Query()
	f := store.BotFilter{MeetingPlatform: q.Get("meeting_platform")}
	var fields []FieldError
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			if !validStatus(st) {
				fields = append(fields, FieldError{"status", "unknown status " + strconv.Quote(st)})
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	limit, lerr := queryInt(q.Get("limit"), 50, 1, 100)
	if lerr != nil {
		fields = append(fields, FieldError{"limit", lerr.Error()})
	}
	f.Limit = limit + 1
	if c := q.Get("cursor"); c != "" {
		id, err := uuid.Parse(c)
		if err != nil {
			fields = append(fields, FieldError{"cursor", "not a cursor from next_cursor"})
		}
		f.Before = &id
	}
	if len(fields) > 0 {
		writeProblem(w, http.StatusBadRequest, "invalid query", fields...)
		return
	}
	bots, err := s.Store.ListBots(r.Context(), owner, f)
	if err != nil {
		s.internal(w, err)
		return
	}
	out := BotList{Bots: []BotView{}}
	for i, b := range bots {
		if i == limit {
			next := bots[i-1].ID.String()
			out.NextCursor = &next
			break
		}
		out.Bots = append(out.Bots, viewOf(b))
	}
	writeJSON(w, http.StatusOK, out)
}

func validStatus(s string) bool {
	for _, st := range store.Statuses() {
		if string(st) == s {
			return true
		}
	}
	return false
}

func queryInt(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return def, errors.New("must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	return n, nil
}

// EventView is a timeline entry. Source tells the controller's record
// ("controller") from a bot's claim ("bot", with the attempt that claimed it).
type EventView struct {
	ID         int64           `json:"id"`
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	Attempt    *int            `json:"attempt,omitempty"`
	Data       json.RawMessage `json:"data"`
	OccurredAt time.Time       `json:"occurred_at"`
}

// EventList is a page of a bot's timeline.
type EventList struct {
	Events []EventView `json:"events"`
	// NextAfter is the "after" of the next page (the last id returned).
	NextAfter int64 `json:"next_after"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	after, aerr := strconv.ParseInt(cmp.Or(q.Get("after"), "0"), 10, 64)
	limit, lerr := queryInt(q.Get("limit"), 100, 1, 1000)
	if aerr != nil || after < 0 || lerr != nil {
		writeProblem(w, http.StatusBadRequest, "after must be a non-negative event id and limit 1 to 1000")
		return
	}
	events, err := s.Store.ListEvents(r.Context(), owner, id, after, limit)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "no such bot")
		return
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	out := EventList{Events: []EventView{}, NextAfter: after}
	for _, e := range events {
		out.Events = append(out.Events, EventView{ID: e.ID, Type: e.Type, Source: e.Source, Attempt: e.Attempt,
			Data: e.Data, OccurredAt: e.OccurredAt})
		out.NextAfter = e.ID
	}
	writeJSON(w, http.StatusOK, out)
}
