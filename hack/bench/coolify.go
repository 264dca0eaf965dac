package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
)

// The Coolify benchmark (issue 13; DESIGN §12: "on a warm Coolify pool ≤ 3
// Coolify API calls per bot lifetime, zero 429s"). `meeboter serve` runs as
// a process on the Coolify simulator, with Coolify's per-user rate limit on,
// a pool of coolifySlots slot applications and no minimum idle: one priming
// wave of a pool's worth of bots creates every slot and pulls the image
// (its calls are counted apart, as pool set-up). Then coolifyBots bots go
// through the warm pool in waves of one pool each; a wave is created once
// the previous one has ended and its slots are back IDLE (stopped, seen
// exited), so no bot waits for a slot and admission→IN_CALL is the
// controller's path plus one warm start. Calls are counted by the simulator,
// which sees every request, 429s included.
//
// The run is the scheduled scenario's world (schedworld.go) compressed by
// coolifyScale: warm start, call length, heartbeat, idle poll, the pool's
// sync period and both rate limits (Coolify's 200 requests a minute and the
// controller's own bucket of 150) are scaled together, so calls per bot and
// 429s are what the real world would see. The controller's own latency
// (API, Postgres, River) is not scaled: it weighs coolifyScale⁻¹ times more
// in overhead_ratio than it would against a real warm start, so
// controller_overhead_p99_ms (unscaled milliseconds) is given too.

// Benchmark parameters.
const (
	coolifyBots  = 200
	coolifySlots = 20
	// coolifyScale compresses the world 20×: a 30 s warm start takes 1.5 s.
	coolifyScale = 0.05
	// coolifyCall is every bot's stay in the call (real world).
	coolifyCall = 30 * time.Second
	// coolifyPoolSync is POOL_SYNC_INTERVAL's default, scaled like the world:
	// the pool's periodic list calls per bot depend on it.
	coolifyPoolSync = 5 * time.Second
	// coolifyPrimingCold is the simulator's cold start for the priming wave
	// (real world; not measured): Coolify's image pull is the only thing it
	// stands for, and 7 minutes of it would be most of the run.
	coolifyPrimingCold = time.Minute
	// coolifyWaveTimeout bounds one wave, from create to its slots back IDLE.
	coolifyWaveTimeout = 60 * time.Second
	// coolifyDatabase is the benchmark's own database on the bench's server.
	coolifyDatabase = "meeboter_bench_coolify"
	// coolifyMeetingURL: every bot goes to Google Meet, so one meeting
	// platform's pool (POOL_MAX_SLOTS is per meeting platform) is the pool.
	coolifyMeetingURL = "https://meet.google.com/abc-defg-hij"
)

// CoolifyResult is the "coolify" object of bench.json.
type CoolifyResult struct {
	Bots  int `json:"bots"`
	Slots int `json:"slots"`
	Waves int `json:"waves"`
	// CallsPerBot is every Coolify API call the simulator answered from the
	// moment the pool was warm to the moment the last wave's slots were back
	// IDLE, divided by Bots.
	CallsPerBot float64 `json:"calls_per_bot"`
	// Calls and CallsByOperation ("METHOD /route" as the simulator routes
	// it) are those calls.
	Calls            int            `json:"calls"`
	CallsByOperation map[string]int `json:"calls_by_operation"`
	// PoolSetupCalls are the calls before the pool was warm: creating the
	// slots, giving them their identity, the priming wave.
	PoolSetupCalls            int            `json:"pool_setup_calls"`
	PoolSetupCallsByOperation map[string]int `json:"pool_setup_calls_by_operation"`
	// HTTP429 is every 429 the simulator sent during the whole run (pool
	// set-up included); Responses counts the answers by status.
	HTTP429   int            `json:"http_429"`
	Responses map[string]int `json:"responses_by_status"`
	// InCall is how many bots reached IN_CALL; Done how many ended
	// DONE/completed.
	InCall int `json:"in_call"`
	Done   int `json:"done_completed"`
	// WarmClaims counts the measured bots whose slot was IDLE when claimed
	// (the controller's mark of a warm start).
	WarmClaims int `json:"warm_claims"`
	// Admission is the bot's DEPLOYING event, IN_CALL its IN_CALL event,
	// both recorded by the controller (milliseconds as run).
	AdmissionToInCallP50Ms float64 `json:"admission_to_in_call_p50_ms"`
	AdmissionToInCallP99Ms float64 `json:"admission_to_in_call_p99_ms"`
	AdmissionToInCallMaxMs float64 `json:"admission_to_in_call_max_ms"`
	// CreateToAdmissionP99Ms is the wait before admission (none expected).
	CreateToAdmissionP99Ms float64 `json:"create_to_admission_p99_ms"`
	// WarmStartMs is the simulator's warm start latency as run (30 s real
	// world × time_scale): the physical floor of admission→IN_CALL.
	WarmStartMs float64 `json:"warm_start_ms"`
	// OverheadRatio is admission→IN_CALL p99 over WarmStartMs;
	// OverheadRatioP50 the same at p50.
	OverheadRatio    float64 `json:"overhead_ratio"`
	OverheadRatioP50 float64 `json:"overhead_ratio_p50"`
	// ControllerOverheadP99Ms is admission→IN_CALL p99 less the warm start:
	// the controller's part, in real milliseconds whatever the scale.
	ControllerOverheadP99Ms float64 `json:"controller_overhead_p99_ms"`
	TimeScale               float64 `json:"time_scale"`
	// RateLimitPerMinute is the simulator's limit and ClientRatePerMinute the
	// controller's bucket (COOLIFY_RATE_LIMIT), per real-world minute; the
	// run divides both by time_scale.
	RateLimitPerMinute  int     `json:"rate_limit_per_minute"`
	ClientRatePerMinute int     `json:"client_rate_per_minute"`
	CallSeconds         float64 `json:"call_seconds"`
	PoolSyncMs          float64 `json:"pool_sync_interval_ms"`
	MeasuredSeconds     float64 `json:"measured_seconds"`
	WallSeconds         float64 `json:"wall_seconds"`
	Controller          string  `json:"controller"`
}

// coolifyRun is one run of the benchmark.
type coolifyRun struct {
	dir, bin, revision string
	dbURL, apiKey      string
	sims               *simWorld
	ctrl               *controller
	api                *userAPI
	db                 *pgxpool.Pool
	waves              [][]string // bot ids by wave; wave 0 primes the pool
	keep               bool
	cleanup            []func()
}

// runCoolify runs the benchmark against a fresh database on the server
// adminURL points at, prints its line and returns the figures.
func runCoolify(ctx context.Context, adminURL string) (*CoolifyResult, error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	r := &coolifyRun{}
	defer r.tearDown()
	if err := r.bringUp(ctx, adminURL); err != nil {
		return nil, err
	}
	setup, measured, began, err := r.play(ctx)
	if err != nil {
		r.keep = true
		return nil, err
	}
	res, err := r.result(ctx, setup, measured)
	if err != nil {
		return nil, err
	}
	res.MeasuredSeconds = seconds(time.Since(began))
	res.WallSeconds = seconds(time.Since(start))
	fmt.Fprintln(os.Stderr, res.line())
	return res, nil
}

// bringUp builds meeboter, makes its database, starts the simulator and the
// controller.
func (r *coolifyRun) bringUp(ctx context.Context, adminURL string) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"meeboter", r.binary},
		{"database", func(ctx context.Context) error { return r.database(ctx, adminURL) }},
		{"simulator and controller", r.startController},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("coolify: %s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "coolify: %s ready (%s)\n", s.name, time.Since(t).Round(time.Millisecond))
	}
	return nil
}

func (r *coolifyRun) binary(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "meeboter-bench-coolify-")
	if err != nil {
		return err
	}
	r.dir = dir
	r.cleanup = append(r.cleanup, func() {
		if r.keep {
			fmt.Fprintf(os.Stderr, "coolify: logs kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	r.revision = sourceRevision(ctx)
	r.bin, err = buildMeeboter(ctx, filepath.Join(dir, "bin"))
	return err
}

func (r *coolifyRun) database(ctx context.Context, adminURL string) error {
	d, err := newProcessDatabase(ctx, r.bin, adminURL, coolifyDatabase, &r.cleanup)
	r.dbURL, r.apiKey, r.db = d.url, d.apiKey, d.pool
	return err
}

// startController starts the simulators (the ECS one stays idle) with as
// many concurrent builds as slots, so Coolify's build queue does not stand
// between a wave and its warm starts, then the controller on Coolify alone.
func (r *coolifyRun) startController(ctx context.Context) error {
	r.sims = startSims(coolifyScale, capacity{ConcurrentBuilds: coolifySlots})
	r.cleanup = append(r.cleanup, r.sims.close)
	r.sims.coolify.SetColdStart(scaled(coolifyPrimingCold, coolifyScale))
	env := append(coolifyControllerEnv(), "DATABASE_URL="+r.dbURL)
	for _, kv := range r.sims.controllerEnv() {
		if strings.HasPrefix(kv, "COOLIFY_") {
			env = append(env, kv)
		}
	}
	var err error
	r.ctrl, r.api, err = startServe(ctx, r.bin, r.dir, env, r.apiKey, &r.cleanup)
	return err
}

// coolifyControllerEnv is the controller's configuration, besides the
// database and the simulator's address and identity.
func coolifyControllerEnv() []string {
	return []string{
		"LOG_FORMAT=json", "LOG_LEVEL=info", "DEPLOYMENT_PLATFORM=coolify",
		// The controller's own periods, as in the scheduled scenario; the
		// pool's is scaled with the world (its list calls are per period).
		"RESYNC_INTERVAL=2s", "OBSERVE_INTERVAL=1s", "JOB_TIMEOUT=10s",
		"POOL_SYNC_INTERVAL=" + scaled(coolifyPoolSync, coolifyScale).String(),
		"BOT_HEARTBEAT_INTERVAL=" + scaled(world.HeartbeatInterval, coolifyScale).String(),
		"POOL_MIN_IDLE=0", "POOL_MAX_SLOTS=" + strconv.Itoa(coolifySlots),
		"COOLIFY_BOT_LIMIT=" + strconv.Itoa(coolifySlots),
		"COOLIFY_MAX_CONCURRENT_DEPLOYS=" + strconv.Itoa(coolifySlots),
		"COOLIFY_RATE_LIMIT=" + strconv.Itoa(int(coolifyClientRatePerMinute/coolifyScale)),
	}
}

func (r *coolifyRun) tearDown() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
}

// play primes the pool with one wave, then sends the measured waves. It
// returns the simulator's counters when the pool was warm and at the end,
// and when the measured waves began.
func (r *coolifyRun) play(ctx context.Context) (setup, measured coolifysim.Stats, began time.Time, err error) {
	waves := (coolifyBots + coolifySlots - 1) / coolifySlots
	for w := 0; w <= waves; w++ {
		n := coolifySlots
		if w > 0 {
			n = min(coolifySlots, coolifyBots-(w-1)*coolifySlots)
		}
		t := time.Now()
		if err := r.wave(ctx, w, n); err != nil {
			return setup, measured, began, fmt.Errorf("coolify: wave %d: %w", w, err)
		}
		if w == 0 {
			setup, began = r.sims.coolify.Stats(), time.Now()
			fmt.Fprintf(os.Stderr, "coolify: pool warm: %d slots idle after a priming wave (%.1f s, %d calls)\n",
				coolifySlots, seconds(time.Since(t)), sumCounts(setup.Calls))
			continue
		}
		fmt.Fprintf(os.Stderr, "coolify: wave %d/%d: %d bots in %.1f s\n", w, waves, n, seconds(time.Since(t)))
	}
	return setup, r.sims.coolify.Stats(), began, nil
}

// wave creates n bots at once, waits until they have all ended, then until
// every slot is IDLE again.
func (r *coolifyRun) wave(ctx context.Context, w, n int) error {
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := map[string]any{"meeting_url": coolifyMeetingURL, "bot_name": fmt.Sprintf("bench coolify %d.%d", w, i),
				"metadata": map[string]any{
					"simulate": map[string]any{"call_seconds": scaled(coolifyCall, coolifyScale).Seconds()},
					"bench":    map[string]any{"part": "coolify", "wave": w, "seq": i},
				}}
			c, err := r.api.create(ctx, body, fmt.Sprintf("bench-coolify-%d-%d", w, i))
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.waves = append(r.waves, ids)
	deadline := time.Now().Add(coolifyWaveTimeout)
	if err := r.waitFor(ctx, deadline, "its bots to end", func() (bool, error) {
		var open int
		err := r.db.QueryRow(ctx, `SELECT count(*) FROM bots WHERE id::text = ANY($1) AND status NOT IN ('DONE', 'FATAL')`,
			ids).Scan(&open)
		return open == 0, err
	}); err != nil {
		return err
	}
	return r.waitFor(ctx, deadline, "its slots to be IDLE", func() (bool, error) {
		var idle, total int
		err := r.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'IDLE' AND assigned_deployment IS NULL), count(*)
			FROM pool_slots`).Scan(&idle, &total)
		return idle == coolifySlots && total == coolifySlots, err
	})
}

// waitFor polls done until it holds or the deadline passes. The poll is
// tight: the time between waves costs the pool's periodic list calls.
func (r *coolifyRun) waitFor(ctx context.Context, deadline time.Time, what string, done func() (bool, error)) error {
	for {
		ok, err := done()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("timed out waiting for %s", what)
		case !r.ctrl.alive():
			return errors.New("meeboter serve exited; its log is kept")
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// result reads every measured bot's timeline and puts the figures
// together.
func (r *coolifyRun) result(ctx context.Context, setup, measured coolifysim.Stats) (*CoolifyResult, error) {
	warm := scaled(world.CoolifyWarm, coolifyScale)
	byOp := diffCounts(setup.Calls, measured.Calls)
	res := &CoolifyResult{Slots: coolifySlots, Waves: len(r.waves) - 1,
		Calls: sumCounts(byOp), CallsByOperation: byOp,
		PoolSetupCalls: sumCounts(setup.Calls), PoolSetupCallsByOperation: setup.Calls,
		HTTP429: measured.Responses[429], Responses: map[string]int{},
		WarmStartMs: ms(warm), TimeScale: coolifyScale,
		RateLimitPerMinute: coolifyServerRatePerMinute, ClientRatePerMinute: coolifyClientRatePerMinute,
		CallSeconds: seconds(scaled(coolifyCall, coolifyScale)), PoolSyncMs: ms(scaled(coolifyPoolSync, coolifyScale)),
		Controller: r.revision}
	for code, n := range measured.Responses {
		res.Responses[strconv.Itoa(code)] = n
	}
	var ids []string
	for _, w := range r.waves[1:] {
		ids = append(ids, w...)
	}
	res.Bots = len(ids)
	if res.Bots > 0 {
		res.CallsPerBot = round3(float64(res.Calls) / float64(res.Bots))
	}
	created := map[string]time.Time{}
	rows, _ := r.db.Query(ctx, `SELECT b.id::text, b.created_at, b.status = 'DONE' AND b.status_reason = 'completed',
			EXISTS (SELECT 1 FROM deployments d WHERE d.bot_id = b.id AND d.warm)
		FROM bots b WHERE b.id::text = ANY($1)`, ids)
	var id string
	var at time.Time
	var completed, warmClaim bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &at, &completed, &warmClaim}, func() error {
		created[id] = at
		res.Done += btoi(completed)
		res.WarmClaims += btoi(warmClaim)
		return nil
	}); err != nil {
		return nil, err
	}
	var toInCall, toAdmission []float64
	for _, id := range ids {
		evs, err := r.api.events(ctx, id)
		if err != nil {
			return nil, err
		}
		admitted, inCall := firstOf(evs, "DEPLOYING"), firstOf(evs, "IN_CALL")
		if !inCall.IsZero() {
			res.InCall++
		}
		if !admitted.IsZero() && !inCall.IsZero() {
			toInCall = append(toInCall, ms(inCall.Sub(admitted)))
		}
		if c, ok := created[id]; ok && !admitted.IsZero() {
			toAdmission = append(toAdmission, ms(admitted.Sub(c)))
		}
	}
	res.AdmissionToInCallP50Ms, res.AdmissionToInCallP99Ms = quantile(toInCall, 0.5), quantile(toInCall, 0.99)
	res.AdmissionToInCallMaxMs = quantile(toInCall, 1)
	res.CreateToAdmissionP99Ms = quantile(toAdmission, 0.99)
	if warm > 0 {
		res.OverheadRatio = round3(res.AdmissionToInCallP99Ms / res.WarmStartMs)
		res.OverheadRatioP50 = round3(res.AdmissionToInCallP50Ms / res.WarmStartMs)
	}
	res.ControllerOverheadP99Ms = round3(res.AdmissionToInCallP99Ms - res.WarmStartMs)
	return res, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// line is the benchmark's one-line summary.
func (res *CoolifyResult) line() string {
	return fmt.Sprintf("coolify: %d bots through %d warm slots: %.2f calls/bot (%s), %d 429s, "+
		"admission→IN_CALL p50 %.0f ms, p99 %.0f ms (warm start %.0f ms, ratio %.2f at p99, %.2f at p50; "+
		"controller p99 +%.0f ms; %d/%d in call; time scale %g)",
		res.Bots, res.Slots, res.CallsPerBot, perBot(res.CallsByOperation, res.Bots), res.HTTP429,
		res.AdmissionToInCallP50Ms, res.AdmissionToInCallP99Ms, res.WarmStartMs, res.OverheadRatio, res.OverheadRatioP50,
		res.ControllerOverheadP99Ms, res.InCall, res.Bots, res.TimeScale)
}

// perBot lists the calls per bot by operation, most first.
func perBot(byOp map[string]int, bots int) string {
	if bots == 0 {
		return "no bots"
	}
	ops := slices.Collect(maps.Keys(byOp))
	slices.SortFunc(ops, func(a, b string) int { return cmp.Or(cmp.Compare(byOp[b], byOp[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %.2f", op, float64(byOp[op])/float64(bots))
	}
	return strings.Join(parts, ", ")
}

// diffCounts is after less before, key by key, leaving out keys that did
// not grow.
func diffCounts(before, after map[string]int) map[string]int {
	out := maps.Clone(after)
	if out == nil {
		out = map[string]int{}
	}
	for k, n := range before {
		out[k] -= n
	}
	maps.DeleteFunc(out, func(_ string, n int) bool { return n <= 0 })
	return out
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// firstOf is when the timeline first shows an event of type typ (zero when
// never).
func firstOf(evs []event, typ string) time.Time {
	for _, e := range evs {
		if e.Type == typ {
			return e.OccurredAt
		}
	}
	return time.Time{}
}
