package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/store"
)

// assignment tells a pool slot container what to run. The container knows
// only its slot identity; the attempt's token comes with the assignment, so
// config is never pushed through Coolify env (which needs a redeploy to
// change). A container that asks after its bot began the meeting has
// restarted: the attempt is ended and the slot gets nothing.
func (s *Server) assignment(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	slot := r.Header.Get(botproto.HeaderPoolSlot)
	if !ok || token == "" || slot == "" {
		writeProblem(w, http.StatusUnauthorized, "send Authorization: Bearer <POOL_SLOT_TOKEN> and X-Pool-Slot: <POOL_SLOT_UUID>")
		return
	}
	a, err := s.Store.SlotAssignment(r.Context(), slot, token, "mbt_"+rand.Text(), s.Clock.Now())
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		writeProblem(w, http.StatusUnauthorized, "invalid slot credentials")
		return
	case err != nil:
		s.internal(w, err)
		return
	case !a.Found:
		if a.Restarted {
			s.Logger.Info("pool slot container restarted mid-meeting; attempt ended", zap.String("slot", slot),
				zap.String("bot_id", a.Auth.BotID.String()), zap.Int("attempt", a.Auth.Attempt))
		}
		writeJSON(w, http.StatusOK, botproto.Assignment{RetryAfterSeconds: s.slotPollSeconds()})
		return
	}
	b, err := s.Store.BotForAttempt(r.Context(), a.Auth)
	if err != nil {
		s.internal(w, err)
		return
	}
	cfg := s.configFor(b, a.Auth)
	writeJSON(w, http.StatusOK, botproto.Assignment{Assigned: true, BotID: b.ID.String(), Token: a.Token, Config: &cfg})
}

// slotPollSeconds is how often an idle slot container asks again (default
// 5 s; at least 1).
func (s *Server) slotPollSeconds() int {
	if s.Config.SlotPollInterval <= 0 {
		return 5
	}
	return max(int(s.Config.SlotPollInterval/time.Second), 1)
}

// PlatformPool is one meeting platform's slots and queue.
type PlatformPool struct {
	MeetingPlatform        string         `json:"meeting_platform"`
	Slots                  map[string]int `json:"slots"`
	Total                  int            `json:"total"`
	QueueLength            int            `json:"queue_length"`
	OldestQueuedAgeSeconds *float64       `json:"oldest_queued_age_seconds"`
}

// PoolView is GET /api/v1/pool.
type PoolView struct {
	Pools []PlatformPool `json:"pools"`
}

func (s *Server) poolStats(r *http.Request) ([]PlatformPool, error) {
	stats, err := s.Store.PoolStats(r.Context(), s.Config.PoolPlatform)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	out := []PlatformPool{}
	for _, st := range stats {
		p := PlatformPool{MeetingPlatform: st.MeetingPlatform, Slots: map[string]int{}, QueueLength: st.QueueLength}
		for state, n := range st.Slots {
			p.Slots[string(state)] = n
			p.Total += n
		}
		if st.OldestQueuedAt != nil {
			age := now.Sub(*st.OldestQueuedAt).Seconds()
			p.OldestQueuedAgeSeconds = &age
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MeetingPlatform < out[j].MeetingPlatform })
	return out, nil
}

func (s *Server) getPool(w http.ResponseWriter, r *http.Request, _ string) {
	pools, err := s.poolStats(r)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PoolView{Pools: pools})
}

// SeedPoolStats is the seed's GET /api/bots/pool-stats answer, summed over
// meeting platforms.
type SeedPoolStats struct {
	Total       int `json:"total"`
	Idle        int `json:"idle"`
	Busy        int `json:"busy"`
	Error       int `json:"error"`
	QueueLength int `json:"queueLength"`
}

func (s *Server) getSeedPoolStats(w http.ResponseWriter, r *http.Request, _ string) {
	pools, err := s.poolStats(r)
	if err != nil {
		s.internal(w, err)
		return
	}
	var out SeedPoolStats
	for _, p := range pools {
		out.Total += p.Total
		out.Idle += p.Slots[string(store.SlotIdle)]
		out.Busy += p.Slots[string(store.SlotStarting)] + p.Slots[string(store.SlotBusy)] + p.Slots[string(store.SlotStopping)]
		out.Error += p.Slots[string(store.SlotError)]
		out.QueueLength += p.QueueLength
	}
	writeJSON(w, http.StatusOK, out)
}
