package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/store"
)

// ReservationView is the capacity held for a scheduled bot: on platform,
// from its admission (twice the platform's lead time before join_at, room
// for the lead to grow) to the end of its longest stay (max_duration_seconds
// or MAX_BOT_LIFETIME) and its leave timeout.
type ReservationView struct {
	Platform string    `json:"platform"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
}

func reservationOf(b store.Bot) *ReservationView {
	if b.ReservedPlatform == nil {
		return nil
	}
	return &ReservationView{Platform: *b.ReservedPlatform, From: *b.ReservedFrom, Until: *b.ReservedUntil}
}

// reservations are the windows a bot joining at joinAt asks for, one per
// platform in priority order: none for a bot joining now, or sooner than
// ReserveAhead.
func (s *Server) reservations(ctx context.Context, joinAt *time.Time, maxDuration *int, now time.Time) []store.Reservation {
	if joinAt == nil || s.Config.ReserveAhead <= 0 || joinAt.Before(now.Add(s.Config.ReserveAhead)) {
		return nil
	}
	return s.windows(ctx, *joinAt, maxDuration)
}

// windows are the candidate windows of a bot joining at joinAt: until it
// must have left (Bot.LeaveAt, its deploy start before joinAt) and its
// leave timeout passed.
func (s *Server) windows(ctx context.Context, joinAt time.Time, maxDuration *int) []store.Reservation {
	if s.LeadTimes == nil {
		return nil
	}
	life := s.Config.MaxBotLifetime + s.Config.LeaveTimeout
	stay := s.Config.MaxBotLifetime
	if maxDuration != nil {
		stay = min(stay, time.Duration(*maxDuration)*time.Second)
	}
	out := make([]store.Reservation, 0, len(s.Config.Platforms))
	for _, p := range s.Config.Platforms {
		lead := s.LeadTimes.ForPlatform(ctx, p.Name)
		out = append(out, store.Reservation{Platform: p.Name, Limit: p.Limit, From: joinAt.Add(-2 * lead),
			Until: joinAt.Add(stay + s.Config.LeaveTimeout), Lifetime: life})
	}
	return out
}

// PatchBotRequest is the body of PATCH /api/v1/bots/{id}: a JSON merge
// patch of the fields a bot not yet admitted may change.
type PatchBotRequest struct {
	JoinAt         json.RawMessage `json:"join_at"`
	BotName        *string         `json:"bot_name"`
	Metadata       json.RawMessage `json:"metadata"`
	AutomaticLeave *AutomaticLeave `json:"automatic_leave"`
	CallbackURL    json.RawMessage `json:"callback_url"`
}

// DecodePatchBot parses and validates a patch of bot cur. It returns the
// change, or field errors (422), or errMalformed-wrapped errors (400).
func DecodePatchBot(body []byte, cur store.Bot, now time.Time) (store.BotPatch, []FieldError, error) {
	var req PatchBotRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return store.BotPatch{}, nil, fmt.Errorf("%w: %s", errMalformed, err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.BotPatch{}, nil, fmt.Errorf("%w: trailing data after the JSON object", errMalformed)
	}
	var fe []FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, FieldError{field, fmt.Sprintf(format, args...)})
	}
	var p store.BotPatch
	if req.JoinAt != nil {
		var at time.Time
		if string(req.JoinAt) == "null" || json.Unmarshal(req.JoinAt, &at) != nil {
			add("join_at", "must be an RFC 3339 time (it cannot be removed: set it to now to join now)")
		} else {
			validateJoinAt(&at, now, add)
			p.JoinAt = &at
		}
	}
	if req.BotName != nil {
		name := validateBotName(*req.BotName, add)
		p.BotName = &name
	}
	if req.Metadata != nil {
		p.Metadata = validateMetadata(req.Metadata, add)
	}
	if req.AutomaticLeave != nil {
		leave := automaticLeaveOver(cur.AutomaticLeave, *req.AutomaticLeave, add)
		p.AutomaticLeave = &leave
	}
	if req.CallbackURL != nil {
		p.SetCallbackURL = true
		if string(req.CallbackURL) != "null" {
			var raw string
			if json.Unmarshal(req.CallbackURL, &raw) != nil {
				add("callback_url", "must be a string or null")
			}
			p.CallbackURL = validateCallback(&raw, add)
		}
	}
	if fe == nil && p.JoinAt == nil && p.BotName == nil && p.Metadata == nil && p.AutomaticLeave == nil && !p.SetCallbackURL {
		add("body", "nothing to change: send join_at, bot_name, metadata, automatic_leave or callback_url")
	}
	return p, fe, nil
}

// automaticLeaveOver is cur with the fields req sets, validated.
func automaticLeaveOver(cur store.AutomaticLeave, req AutomaticLeave, add func(string, string, ...any)) store.AutomaticLeave {
	keep := func(v *int, c int) *int {
		if v == nil {
			return &c
		}
		return v
	}
	return automaticLeave(&AutomaticLeave{
		WaitingRoomTimeoutSeconds:  keep(req.WaitingRoomTimeoutSeconds, cur.WaitingRoomTimeoutSeconds),
		NooneJoinedTimeoutSeconds:  keep(req.NooneJoinedTimeoutSeconds, cur.NooneJoinedTimeoutSeconds),
		EveryoneLeftTimeoutSeconds: keep(req.EveryoneLeftTimeoutSeconds, cur.EveryoneLeftTimeoutSeconds),
		InactivityTimeoutSeconds:   keep(req.InactivityTimeoutSeconds, cur.InactivityTimeoutSeconds),
	}, add)
}

// patchBot changes a bot that is not admitted yet (SCHEDULED or QUEUED).
func (s *Server) patchBot(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	cur, err := s.Store.GetBot(r.Context(), owner, id)
	if err != nil {
		s.writeBot(r.Context(), w, http.StatusOK, cur, err)
		return
	}
	now := s.Clock.Now()
	p, fields, err := DecodePatchBot(body, cur, now)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	fields = append(fields, s.callbackFields(p.CallbackURL)...)
	if len(fields) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "the change is not valid", fields...)
		return
	}
	if p.JoinAt != nil {
		p.Reserve = s.reservations(r.Context(), p.JoinAt, cur.MaxDurationSeconds, now)
		if cur.ReservedPlatform != nil && p.JoinAt.After(now) {
			// A guarantee, once given, is kept or the change refused.
			p.Reserve = s.windows(r.Context(), *p.JoinAt, cur.MaxDurationSeconds)
		}
	}
	b, err := s.Store.PatchBot(r.Context(), owner, id, p, now)
	switch {
	case errors.Is(err, store.ErrAdmitted):
		writeProblem(w, http.StatusConflict, "the bot was admitted or stopped already: only a SCHEDULED or QUEUED bot can be changed")
		return
	case errors.Is(err, store.ErrNoCapacity):
		win := p.Reserve[0]
		writeProblem(w, http.StatusConflict, fmt.Sprintf("no platform can guarantee capacity from %s to %s; "+
			"the bot keeps its join_at and reservation", win.From.UTC().Format(time.RFC3339), win.Until.UTC().Format(time.RFC3339)))
		return
	case err == nil:
		s.Logger.Info("bot changed", zap.String("bot_id", id.String()), zap.String("owner", owner),
			zap.Bool("capacity_reserved", b.ReservedPlatform != nil))
	}
	s.writeBot(r.Context(), w, http.StatusOK, b, err)
}
