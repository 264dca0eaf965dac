package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// createResult is what creating one planned bot gave.
type createResult struct {
	ID       string
	JoinAt   time.Time // zero for ad hoc bots
	Reserved *bool     // the answer's capacity_reserved, when it has one
	Err      error
}

// killRecord is the one SIGKILL of the controller.
type killRecord struct {
	at, ready time.Time
	err       error
}

// createWorkers bound the creates in flight: the ad hoc burst is hundreds
// of bots within a wall-clock second.
const createWorkers = 16

// play runs the scenario from now: creates every bot on its schedule, kills
// and restarts the controller once, and looks at the platforms before each
// wave. It returns once the last bot is created and the last wave is due.
func (r *schedRun) play(ctx context.Context) {
	r.t0 = time.Now()
	fmt.Fprintf(os.Stderr, "scheduled: %d scheduled bots due at %s s, %d ad hoc at %.1f s; call %.1f s\n",
		r.plan.Scheduled, waveTimes(r.plan.Waves), r.plan.AdHoc, seconds(r.plan.AdHocAt), seconds(r.plan.Call))
	stop := r.progress(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { r.createAll(ctx) })
	wg.Go(func() { r.watchPlatforms(ctx) })
	if r.plan.KillAt > 0 {
		wg.Go(func() { r.killOnce(ctx) })
	}
	wg.Wait()
}

func waveTimes(ws []wave) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%.0f", w.JoinAt)
	}
	return strings.Join(parts, ", ")
}

// createAll creates each planned bot at its time, from a few workers.
func (r *schedRun) createAll(ctx context.Context) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Go(func() {
			for i := range work {
				r.created[i] = r.createOne(ctx, r.plan.Bots[i])
			}
		})
	}
	for i, b := range r.plan.Bots {
		if sleepCtx(ctx, time.Until(r.t0.Add(b.CreateAt))) != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
}

// createOne creates one bot through the API, as a customer would.
func (r *schedRun) createOne(ctx context.Context, b plannedBot) createResult {
	body := map[string]any{"meeting_url": b.MeetingURL, "bot_name": fmt.Sprintf("bench %s %d", b.Kind, b.Seq),
		"metadata": map[string]any{
			"simulate": map[string]any{"call_seconds": r.plan.Call.Seconds()},
			"bench":    map[string]any{"kind": b.Kind, "wave": b.Wave, "seq": b.Seq},
		}}
	var res createResult
	if b.Kind == kindScheduled {
		res.JoinAt = r.t0.Add(b.JoinAt).Truncate(time.Millisecond)
		body["join_at"] = res.JoinAt.UTC().Format(time.RFC3339Nano)
		body["max_duration_seconds"] = int(math.Ceil(scaled(max(maxDuration, r.opts.call+time.Minute), r.opts.scale).Seconds()))
	}
	c, err := r.api.create(ctx, body, fmt.Sprintf("bench-scheduled-%d", b.Seq))
	res.ID, res.Reserved, res.Err = c.ID, c.CapacityReserved, err
	if err != nil {
		fmt.Fprintf(os.Stderr, "scheduled: create %s %d: %v\n", b.Kind, b.Seq, err)
	}
	return res
}

// killOnce SIGKILLs the controller shortly before the last wave is due,
// keeps it down a moment, and starts it again on the same address.
func (r *schedRun) killOnce(ctx context.Context) {
	if sleepCtx(ctx, time.Until(r.t0.Add(r.plan.KillAt))) != nil {
		return
	}
	r.kill.at = time.Now()
	r.ctrl.kill()
	fmt.Fprintf(os.Stderr, "scheduled: +%.1fs controller SIGKILLed\n", since(r.t0, r.kill.at))
	_ = sleepCtx(ctx, r.plan.KillDown)
	r.kill.err = r.ctrl.start()
	if r.kill.err == nil {
		r.kill.err = r.ctrl.ready(ctx, 90*time.Second)
	}
	r.kill.ready = time.Now()
	fmt.Fprintf(os.Stderr, "scheduled: +%.1fs controller serving again (err %v)\n", since(r.t0, r.kill.ready), r.kill.err)
}

func (k killRecord) result(r *schedRun) *killResult {
	if r.plan.KillAt == 0 || k.at.IsZero() {
		return nil
	}
	res := &killResult{Wave: r.plan.KillWave, At: since(r.t0, k.at),
		BeforeJoin: seconds(r.t0.Add(r.plan.lastJoin()).Sub(k.at)), Down: seconds(k.ready.Sub(k.at))}
	if k.err != nil {
		res.Error = k.err.Error()
	}
	return res
}

// watchPlatforms reads GET /api/v1/platforms a second before each wave is
// due: the lead times the controller is working with, where it shows them.
func (r *schedRun) watchPlatforms(ctx context.Context) {
	for _, w := range r.plan.Waves {
		if sleepCtx(ctx, time.Until(r.t0.Add(w.joinAt-time.Second))) != nil {
			return
		}
		v := platformView{Wave: w.Number, At: since(r.t0, time.Now())}
		raw, err := r.api.platforms(ctx)
		if err != nil {
			v.Error = err.Error()
		} else {
			v.View = raw
		}
		r.views = append(r.views, v)
	}
}

// progress prints the bots by kind and status every 10 s until stopped.
func (r *schedRun) progress(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sleepCtx(ctx, 10*time.Second) == nil {
			fmt.Fprintf(os.Stderr, "scheduled: +%.0fs %s\n", since(r.t0, time.Now()), r.statusLine(ctx))
		}
	}()
	return func() { cancel(); <-done }
}

// statusLine counts the bots by kind and status, from the database.
func (r *schedRun) statusLine(ctx context.Context) string {
	rows, err := r.db.Query(ctx, `SELECT coalesce(metadata->'bench'->>'kind', '?'), status, count(*)
		FROM bots GROUP BY 1, 2`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	byKind := map[string][]string{}
	for rows.Next() {
		var kind, status string
		var n int
		if err := rows.Scan(&kind, &status, &n); err != nil {
			return err.Error()
		}
		byKind[kind] = append(byKind[kind], fmt.Sprintf("%s %d", status, n))
	}
	var parts []string
	for _, k := range []string{kindScheduled, kindAdHoc} {
		sort.Strings(byKind[k])
		parts = append(parts, k+": "+cmp.Or(strings.Join(byKind[k], " "), "-"))
	}
	return strings.Join(parts, " | ")
}

// waitFinished waits until every bot has ended, or until the drain time
// after the last wave's calls is up (what is left is reported stuck).
func (r *schedRun) waitFinished(ctx context.Context) error {
	drain := max(scaled(10*time.Minute, r.opts.scale), time.Minute)
	deadline := r.t0.Add(r.plan.lastJoin() + r.plan.Call + drain)
	for {
		var open int
		if err := r.db.QueryRow(ctx, `SELECT count(*) FROM bots WHERE status NOT IN ('DONE', 'FATAL')`).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d bots not ended %.0f s after the last wave's calls", open, drain.Seconds())
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// reservedCount counts the scheduled bots whose create answer said they
// reserved capacity; nil when no answer carried the field.
func (r *schedRun) reservedCount() *int {
	n, seen := 0, false
	for i, c := range r.created {
		if r.plan.Bots[i].Kind != kindScheduled || c.Reserved == nil {
			continue
		}
		seen = true
		if *c.Reserved {
			n++
		}
	}
	if !seen {
		return nil
	}
	return &n
}

func (r *schedRun) createFailures() int {
	n := 0
	for _, c := range r.created {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// settings are the scenario's parameters, for the report.
func (r *schedRun) settings() schedSettings {
	return schedSettings{TimeScale: r.opts.scale, World: worldSettings(r.opts.scale), Floors: floorSettings(r.opts.scale),
		NotScaled: notScaled,
		Capacity:  r.opts.capacity, Waves: r.plan.Waves, AdHocBots: r.plan.AdHoc, AdHocCreatedAt: seconds(r.plan.AdHocAt),
		CallSeconds: seconds(r.plan.Call), ControllerEnv: envMap(controllerEnv(r.opts.scale, r.opts.capacity, r.opts.env))}
}
