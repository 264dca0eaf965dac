package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ScheduledResult is the "scheduled" object of bench.json. The embedded
// onTime is every scheduled bot: bots, on_time_ratio, the lateness
// quantiles and early_max_seconds are the figures.
type ScheduledResult struct {
	onTime
	TimeScale float64 `json:"time_scale"`
	// OnTimeWindow is the window on_time_ratio uses: 2 s × time_scale.
	OnTimeWindow float64           `json:"on_time_window_seconds"`
	NeverEntered map[string]int    `json:"never_entered_by"`
	ByPlatform   map[string]onTime `json:"by_platform"`
	ByWave       map[string]onTime `json:"by_wave"`
	// CapacityReserved counts the scheduled bots whose create answer said
	// capacity_reserved; null when the answers do not carry the field.
	CapacityReserved *int `json:"capacity_reserved"`
	// Lateness splits at the moment the bot sent JOINING_CALL: SendDelay
	// is from join_at to the send (for a bot ready in time, its own timer
	// and this process's scheduling; for one that was not, its start),
	// ReportDelay from the send to the controller recording it (the API's
	// part).
	SendDelay   delayStats `json:"joining_call_send_delay"`
	ReportDelay delayStats `json:"joining_call_report_delay"`
	// CrossCheck compares the timeline's lateness with the bot's own
	// join_lateness_seconds, where the API has it.
	CrossCheck  crossCheck     `json:"join_lateness_cross_check"`
	Latest      []lateBot      `json:"latest"`
	AdHoc       adHocResult    `json:"ad_hoc"`
	Kill        *killResult    `json:"kill"`
	Platforms   []platformView `json:"platforms_before_waves"`
	CreateFails int            `json:"create_failures"`
	Simulators  simStats       `json:"simulators"`
	Settings    schedSettings  `json:"settings"`
	// Controller is the commit meeboter was built from.
	Controller  string  `json:"controller"`
	WallSeconds float64 `json:"wall_seconds"`
}

type delayStats struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_seconds"`
	P99     float64 `json:"p99_seconds"`
	Max     float64 `json:"max_seconds"`
}

type crossCheck struct {
	Bots       int     `json:"bots_with_field"`
	MaxAbsDiff float64 `json:"max_abs_diff_seconds"`
}

// lateBot is one of the latest (or never entered) scheduled bots, with
// what explains it.
type lateBot struct {
	ID          string   `json:"id"`
	Wave        int      `json:"wave"`
	Platform    string   `json:"platform"`
	End         string   `json:"end"`
	Attempt     int      `json:"attempt"`
	Lateness    *float64 `json:"lateness_seconds"`
	LeadGiven   *float64 `json:"lead_given_seconds"`
	ReadyMargin *float64 `json:"ready_margin_seconds"`
}

type adHocResult struct {
	Bots         int            `json:"bots"`
	Entered      int            `json:"entered"`
	NeverEntered map[string]int `json:"never_entered_by"`
	// Wait is from creation to entering the meeting.
	WaitP50 float64 `json:"wait_p50_seconds"`
	WaitP99 float64 `json:"wait_p99_seconds"`
	WaitMax float64 `json:"wait_max_seconds"`
}

type killResult struct {
	Wave       int     `json:"before_wave"`
	At         float64 `json:"at_seconds"`
	BeforeJoin float64 `json:"seconds_before_join"`
	// Down is from the SIGKILL to the new process answering /readyz.
	Down  float64 `json:"down_seconds"`
	Error string  `json:"error,omitempty"`
}

// platformView is GET /api/v1/platforms just before a wave was due.
type platformView struct {
	Wave  int             `json:"wave"`
	At    float64         `json:"at_seconds"`
	View  json.RawMessage `json:"view,omitempty"`
	Error string          `json:"error,omitempty"`
}

type schedSettings struct {
	TimeScale      float64            `json:"time_scale"`
	World          map[string]latency `json:"world"`
	Floors         map[string]latency `json:"lead_time_floors"`
	NotScaled      []string           `json:"not_scaled"`
	Capacity       capacity           `json:"capacity"`
	Waves          []wave             `json:"waves"`
	AdHocBots      int                `json:"ad_hoc_bots"`
	AdHocCreatedAt float64            `json:"ad_hoc_created_at_seconds"`
	CallSeconds    float64            `json:"call_seconds"`
	ControllerEnv  map[string]string  `json:"controller_env"`
}

// notScaled is what the compressed run keeps at real speed.
var notScaled = []string{
	"API and Postgres latency (a JOINING_CALL report takes as long as it does)",
	"ECS request buckets and the Fargate launch rate (the simulator enforces the real ones)",
	"the controller's loop periods (RESYNC_INTERVAL, OBSERVE_INTERVAL, POOL_SYNC_INTERVAL)",
	"deadlines (QUEUE_TIMEOUT, DEPLOY_TIMEOUT, HEARTBEAT_TIMEOUT)",
}

// buildResult turns the outcomes into the report.
func buildResult(r *schedRun, outs []botOutcome) ScheduledResult {
	window := unscaledWindow * r.opts.scale
	sched := ofKind(outs, kindScheduled)
	res := ScheduledResult{onTime: summarize(sched, window), TimeScale: r.opts.scale, OnTimeWindow: round3(window),
		NeverEntered: neverEntered(sched), ByPlatform: map[string]onTime{}, ByWave: map[string]onTime{},
		CapacityReserved: r.reservedCount(), SendDelay: sendDelay(sched), ReportDelay: reportDelay(sched), CrossCheck: crossChecked(sched),
		Latest: latest(sched, 10), AdHoc: adHoc(ofKind(outs, kindAdHoc)), Kill: r.kill.result(r),
		Platforms: r.views, CreateFails: r.createFailures(), Simulators: r.sims.stats(), Settings: r.settings(),
		Controller: r.revision}
	for p, g := range groupBy(sched, func(o botOutcome) string { return o.Platform }) {
		res.ByPlatform[p] = summarize(g, window)
	}
	for w, g := range groupBy(sched, func(o botOutcome) string { return strconv.Itoa(o.Wave) }) {
		res.ByWave[w] = summarize(g, window)
	}
	return res
}

func neverEntered(outs []botOutcome) map[string]int {
	m := map[string]int{}
	for _, o := range outs {
		if !o.Entered {
			m[endState(o)]++
		}
	}
	return m
}

// sendDelay and reportDelay split the lateness of the bots whose
// JOINING_CALL send was seen.
func sendDelay(outs []botOutcome) delayStats {
	return delays(outs, func(o botOutcome) time.Duration { return o.JoinSent.Sub(o.JoinAt) })
}

func reportDelay(outs []botOutcome) delayStats {
	return delays(outs, func(o botOutcome) time.Duration { return o.EnteredAt.Sub(o.JoinSent) })
}

func delays(outs []botOutcome, d func(botOutcome) time.Duration) delayStats {
	var xs []float64
	for _, o := range outs {
		if o.Entered && !o.JoinSent.IsZero() {
			xs = append(xs, d(o).Seconds())
		}
	}
	return delayStats{Samples: len(xs), P50: quantile(xs, 0.5), P99: quantile(xs, 0.99), Max: quantile(xs, 1)}
}

func crossChecked(outs []botOutcome) crossCheck {
	var c crossCheck
	for _, o := range outs {
		if o.Entered && o.APILateness != nil {
			c.Bots++
			c.MaxAbsDiff = max(c.MaxAbsDiff, round3(math.Abs(*o.APILateness-o.lateness())))
		}
	}
	return c
}

// latest is the n latest scheduled bots, the ones that never entered first.
func latest(outs []botOutcome, n int) []lateBot {
	s := slices.Clone(outs)
	key := func(o botOutcome) float64 {
		if !o.Entered {
			return math.Inf(1)
		}
		return o.lateness()
	}
	slices.SortFunc(s, func(a, b botOutcome) int { return cmp.Compare(key(b), key(a)) })
	var out []lateBot
	for _, o := range s[:min(n, len(s))] {
		l := lateBot{ID: o.ID, Wave: o.Wave, Platform: o.Platform, End: endState(o), Attempt: o.Attempt}
		if o.Entered {
			l.Lateness = new(round3(o.lateness()))
		}
		if d, ok := o.first["DEPLOYING"]; ok {
			l.LeadGiven = new(round3(o.JoinAt.Sub(d).Seconds()))
		}
		if t, ok := o.readyAt(); ok {
			l.ReadyMargin = new(round3(o.JoinAt.Sub(t).Seconds()))
		}
		out = append(out, l)
	}
	return out
}

func adHoc(outs []botOutcome) adHocResult {
	a := adHocResult{Bots: len(outs), NeverEntered: neverEntered(outs)}
	var wait []float64
	for _, o := range outs {
		if o.Entered {
			a.Entered++
			wait = append(wait, o.EnteredAt.Sub(o.CreatedAt).Seconds())
		}
	}
	a.WaitP50, a.WaitP99, a.WaitMax = quantile(wait, 0.5), quantile(wait, 0.99), quantile(wait, 1)
	return a
}

// printResult writes the figures as a table.
func printResult(w io.Writer, r ScheduledResult) {
	s := r.Settings
	fmt.Fprintf(w, "\nscheduled: %d bots in %d waves, %d ad hoc; time scale %g (Fargate start %.1f–%.1f s, Coolify cold %.1f s / warm %.1f s)\n",
		r.Bots, len(s.Waves), r.AdHoc.Bots, r.TimeScale, s.World["fargate_start_min"].Scaled, s.World["fargate_start_max"].Scaled,
		s.World["coolify_cold_start"].Scaled, s.World["coolify_warm_start"].Scaled)
	if r.Kill != nil {
		fmt.Fprintf(w, "controller SIGKILLed %.1f s before wave %d, serving again %.2f s later %s\n",
			r.Kill.BeforeJoin, r.Kill.Wave, r.Kill.Down, r.Kill.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tbots\tentered\ton time ≤%gs\ton time ≤2s\tlate p50\tp99\tmax\tearly max\tlead given p50\tready late\n", r.OnTimeWindow)
	row := func(name string, s onTime) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%.4f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%d\n", name, s.Bots, s.Entered, s.OnTimeRatio,
			s.OnTimeRatioUnscaled2s, s.LatenessP50, s.LatenessP99, s.LatenessMax, s.EarlyMax, s.LeadGivenP50, s.ReadyLate)
	}
	row("all", r.onTime)
	for _, p := range slices.Sorted(maps.Keys(r.ByPlatform)) {
		row(p, r.ByPlatform[p])
	}
	for _, wv := range slices.Sorted(maps.Keys(r.ByWave)) {
		row("wave "+wv, r.ByWave[wv])
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "JOINING_CALL join_at → sent by the bot: p50 %.3f s, p99 %.3f s, max %.3f s; sent → recorded: p50 %.3f s, p99 %.3f s, max %.3f s (%d bots)\n",
		r.SendDelay.P50, r.SendDelay.P99, r.SendDelay.Max, r.ReportDelay.P50, r.ReportDelay.P99, r.ReportDelay.Max, r.ReportDelay.Samples)
	if len(r.NeverEntered) > 0 {
		fmt.Fprintf(w, "never entered: %s\n", counts(r.NeverEntered))
	}
	fmt.Fprintf(w, "ad hoc: %d of %d entered, creation → entry p50 %.1f s, p99 %.1f s, max %.1f s; never entered: %s\n",
		r.AdHoc.Entered, r.AdHoc.Bots, r.AdHoc.WaitP50, r.AdHoc.WaitP99, r.AdHoc.WaitMax, counts(r.AdHoc.NeverEntered))
	printLatest(w, r.Latest)
	fmt.Fprintf(w, "simulators: ECS %d calls, %d throttled, %d tasks; Coolify %d calls, %d throttled, %d deployments (at most %d at once)\n",
		r.Simulators.ECS.Calls, r.Simulators.ECS.Throttled, r.Simulators.ECS.Launched, r.Simulators.Coolify.Calls,
		r.Simulators.Coolify.Throttled, r.Simulators.Coolify.Deployments, r.Simulators.Coolify.MaxInProgress)
	fmt.Fprintf(w, "controller: %s\n", r.Controller)
}

func printLatest(w io.Writer, l []lateBot) {
	if len(l) == 0 {
		return
	}
	fmt.Fprintln(w, "latest scheduled bots:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  id\twave\tplatform\tend\tattempt\tlateness\tlead given\tready margin")
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'f', 3, 64)
	}
	for _, b := range l {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", b.ID, b.Wave, b.Platform, b.End, b.Attempt,
			f(b.Lateness), f(b.LeadGiven), f(b.ReadyMargin))
	}
	_ = tw.Flush()
}

// counts renders a tally as "a 3, b 1", largest first; "none" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// since is t as seconds from the scenario's start.
func since(t0, t time.Time) float64 { return seconds(t.Sub(t0)) }
