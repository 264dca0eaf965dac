package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// envWorkload is the variable the ECS driver names a task's deployment in
// (meeboter-<bot>-<attempt>).
const envWorkload = "MEEBOTER_WORKLOAD"

// play is one meeting a container plays: an ECS task's bot attempt, or one
// assignment of a Coolify pool slot.
type play struct {
	// Container is the workload name (MEEBOTER_WORKLOAD) for a one-bot
	// container, the slot's application uuid (POOL_SLOT_UUID) for a slot.
	Container string     `json:"container"`
	BotID     string     `json:"bot_id"`
	Attempt   int        `json:"attempt"`
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until,omitempty"`
	// Killed: the container was crashed or vanished under the meeting.
	Killed bool `json:"killed,omitempty"`
}

// botRegistry is what the simulator's in-process bots play now, and what
// they played: the simulator's own view of which bot runs where, for a
// chaos run to check against (GET /_sim/bots).
type botRegistry struct {
	mu    sync.Mutex
	next  int
	live  map[int]*play
	ended []play
}

func newBotRegistry() *botRegistry { return &botRegistry{live: map[int]*play{}} }

// begin records a meeting starting and returns its handle.
func (r *botRegistry) begin(container, botID string, attempt int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	r.live[r.next] = &play{Container: container, BotID: botID, Attempt: attempt, Since: time.Now()}
	return r.next
}

// end records a meeting's end; ending one twice (a kill, then the
// goroutine's return) keeps the first.
func (r *botRegistry) end(id int, killed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.live[id]
	if p == nil {
		return
	}
	delete(r.live, id)
	now := time.Now()
	p.Until, p.Killed = &now, killed
	r.ended = append(r.ended, *p)
}

// snapshot is the JSON of GET /_sim/bots.
type snapshot struct {
	Live  []play `json:"live"`
	Ended []play `json:"ended"`
}

func (r *botRegistry) snapshot(withEnded bool) snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := snapshot{Live: []play{}, Ended: []play{}}
	for _, p := range r.live {
		out.Live = append(out.Live, *p)
	}
	slices.SortFunc(out.Live, func(a, b play) int { return a.Since.Compare(b.Since) })
	if withEnded {
		out.Ended = slices.Clone(r.ended)
	}
	return out
}

// handler serves GET /_sim/bots[?ended=1] behind the simulator's own
// token, and passes everything else to next.
func (r *botRegistry) handler(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/_sim/bots" {
			next.ServeHTTP(w, req)
			return
		}
		got, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"message":"Unauthenticated."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(r.snapshot(req.URL.Query().Get("ended") != ""))
	})
}

// simBots runs every started container as an in-process simulated bot, so
// a thousand bots need no thousand processes. All of them share one HTTP
// transport; each gets its own client, which a kill cuts off at once.
type simBots struct {
	reg       *botRegistry
	transport http.RoundTripper
	log       *slog.Logger
}

func newSimBots(log *slog.Logger) *simBots {
	return &simBots{reg: newBotRegistry(), log: log,
		transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}}
}

// workload is the simcontainer.Workload of every container: one bot
// attempt for a container with BOT_ID, a pool slot for one with
// POOL_SLOT_UUID.
func (b *simBots) workload(ctx context.Context, env map[string]string) int {
	cut := &cuttableTransport{base: b.transport}
	client := &http.Client{Transport: cut, Timeout: botproto.DefaultRequestTimeout}
	opts := []botsim.Option{botsim.WithLogger(b.log), botsim.WithClientOptions(botproto.WithHTTPClient(client))}
	settings := botsim.DefaultSettings()
	if env[botproto.EnvBotID] != "" {
		name := env[envWorkload]
		id := b.reg.begin(name, env[botproto.EnvBotID], attemptOf(name))
		stopKill := b.onKill(ctx, cut, func() { b.reg.end(id, true) })
		defer stopKill()
		defer func() { b.reg.end(id, killed(ctx)) }() // the kill may return the bot before onKill ran
		return botsim.RunWithEnv(ctx, env, settings, opts...)
	}
	slotClient, err := botproto.SlotClientFromEnv(func(k string) string { return env[k] }, botproto.WithHTTPClient(client))
	if err != nil {
		b.log.Error("container with neither a bot nor a slot identity", "err", err)
		return botsim.ExitUsage
	}
	slot := &slotLoop{api: slotClient, reg: b.reg, app: slotClient.SlotUUID(), settings: settings,
		log: b.log.With("pool_slot", slotClient.SlotUUID())}
	stopKill := b.onKill(ctx, cut, func() { slot.endCurrent(true) })
	defer stopKill()
	return slot.run(ctx)
}

// onKill cuts the bot off the network the moment its container is
// crashed or vanished (a process would be SIGKILLed: no goodbye), and runs
// ended. A graceful stop is left to the bot, which says goodbye.
func (b *simBots) onKill(ctx context.Context, cut *cuttableTransport, ended func()) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		if killed(ctx) {
			cut.cut()
			ended()
		}
	})
}

// killed reports whether the container was crashed or vanished, not stopped.
func killed(ctx context.Context) bool { return errors.Is(context.Cause(ctx), simcontainer.ErrKilled) }

// attemptOf parses the attempt out of a workload name
// meeboter-<bot>-<attempt> (0 when it has none).
func attemptOf(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.Atoi(name[i+1:])
	if i < 0 || err != nil {
		return 0
	}
	return n
}

// slotLoop is a pool slot container: it asks for an assignment, plays it
// with that attempt's token, and asks again, forever, as
// botsim.PoolSlot does; it plays each meeting itself so the registry sees
// a meeting end the moment it ends.
type slotLoop struct {
	api      *botproto.SlotClient
	reg      *botRegistry
	app      string
	settings botsim.Settings
	log      *slog.Logger
	cur      atomic.Int64 // the play in progress, 0 for none
}

// run returns 0 once ctx is cancelled (the container is stopped).
func (s *slotLoop) run(ctx context.Context) int {
	failures := 0
	for {
		a, err := s.api.Assignment(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return 0
		case err != nil:
			failures++
			wait = min(botsim.DefaultRetryBase<<min(failures-1, 6), botsim.DefaultRetryCap)
			s.log.Warn("asking for an assignment failed", "err", err, "retry_in", wait)
		case !a.Assigned:
			failures = 0
			wait = a.RetryAfter(botsim.DefaultIdleInterval)
		default:
			failures = 0
			s.play(ctx, a)
			wait = time.Second // do not spin on an assignment that ends at once
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(wait):
		}
	}
}

// play runs one assigned meeting, recorded in the registry while it runs.
func (s *slotLoop) play(ctx context.Context, a *botproto.Assignment) {
	attempt := 0
	if a.Config != nil {
		attempt = a.Config.Attempt
	}
	s.cur.Store(int64(s.reg.begin(s.app, a.BotID, attempt)))
	defer func() { s.endCurrent(killed(ctx)) }()
	sim := &botsim.Simulator{API: s.api.BotClient(a.BotID, a.Token), Settings: s.settings, Config: a.Config,
		Log: s.log.With("bot_id", a.BotID)}
	sim.Run(ctx)
}

// endCurrent ends the play in progress, if any.
func (s *slotLoop) endCurrent(killed bool) {
	if id := s.cur.Swap(0); id != 0 {
		s.reg.end(int(id), killed)
	}
}

// cuttableTransport fails every request once cut, as the network of a
// killed container would.
type cuttableTransport struct {
	base  http.RoundTripper
	isCut atomic.Bool
}

var errContainerKilled = errors.New("sim: container killed")

func (t *cuttableTransport) cut() { t.isCut.Store(true) }

func (t *cuttableTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.isCut.Load() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errContainerKilled
	}
	return t.base.RoundTrip(req)
}
