package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// unscaledWindow is the on-time window before scaling: entering
// within 2 s of join_at.
const unscaledWindow = 2.0

// enteringStatuses are the statuses that mean the bot has begun entering
// its meeting; the first of them is its entry (JOINING_CALL, unless a bot
// skipped it).
var enteringStatuses = []string{"JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL"}

// botOutcome is what one bot did, read back from the API: its state and
// its own timeline.
type botOutcome struct {
	Kind, Platform, Status, Reason string
	Wave, Attempt                  int
	ID                             string
	JoinAt, CreatedAt              time.Time
	// first is when each status was first reached (events of that type).
	first map[string]time.Time
	// Entered: the bot began entering its meeting at EnteredAt.
	Entered   bool
	EnteredAt time.Time
	// APILateness is join_lateness_seconds from GET /api/v1/bots/{id}.
	APILateness *float64
	// JoinSent is when the bot sent JOINING_CALL, by its own clock.
	JoinSent time.Time
}

// lateness is EnteredAt - JoinAt in seconds (negative: early).
func (o botOutcome) lateness() float64 { return o.EnteredAt.Sub(o.JoinAt).Seconds() }

// readyAt is the bot's first report: READY, or its entry when it skipped
// READY (it was started too late to wait).
func (o botOutcome) readyAt() (time.Time, bool) {
	if t, ok := o.first["READY"]; ok {
		return t, true
	}
	return o.EnteredAt, o.Entered
}

// collectOutcomes reads every created bot back: GET the bot and its events.
func collectOutcomes(ctx context.Context, api *userAPI, p plan, created []createResult, joins *joinRecorder) ([]botOutcome, error) {
	outs := make([]botOutcome, len(created))
	errs := make([]error, len(created))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				outs[i], errs[i] = readOutcome(ctx, api, p.Bots[i], created[i], joins)
			}
		})
	}
	for i, c := range created {
		if c.ID != "" {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	var kept []botOutcome
	for i, c := range created {
		if c.ID == "" {
			continue
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
		kept = append(kept, outs[i])
	}
	return kept, nil
}

func readOutcome(ctx context.Context, api *userAPI, b plannedBot, c createResult, joins *joinRecorder) (botOutcome, error) {
	st, err := api.bot(ctx, c.ID)
	if err != nil {
		return botOutcome{}, err
	}
	evs, err := api.events(ctx, c.ID)
	if err != nil {
		return botOutcome{}, err
	}
	o := botOutcome{Kind: b.Kind, Wave: b.Wave, Attempt: st.Attempt, ID: c.ID, Platform: "none", Status: st.Status,
		JoinAt: c.JoinAt, CreatedAt: st.CreatedAt, APILateness: st.JoinLatenessSeconds, first: map[string]time.Time{}}
	if st.Platform != nil {
		o.Platform = *st.Platform
	}
	if st.StatusReason != nil {
		o.Reason = *st.StatusReason
	}
	for _, e := range evs {
		if t, seen := o.first[e.Type]; !seen || e.OccurredAt.Before(t) {
			o.first[e.Type] = e.OccurredAt
		}
	}
	for _, s := range enteringStatuses {
		if t, ok := o.first[s]; ok && (!o.Entered || t.Before(o.EnteredAt)) {
			o.Entered, o.EnteredAt = true, t
		}
	}
	o.JoinSent, _ = joins.sentAt(c.ID)
	return o, nil
}

// onTime is how punctually a group of scheduled bots entered their
// meetings. Lateness figures are over the bots that entered; the ratios
// count every bot, so one that never entered is never on time.
type onTime struct {
	Bots         int     `json:"bots"`
	Entered      int     `json:"entered"`
	NeverEntered int     `json:"never_entered"`
	OnTime       int     `json:"on_time"`
	OnTimeRatio  float64 `json:"on_time_ratio"`
	// OnTimeRatioUnscaled2s uses the window as is, 2 s of wall
	// clock rather than 2 s of the compressed world.
	OnTimeRatioUnscaled2s float64 `json:"on_time_ratio_unscaled_2s"`
	Late                  int     `json:"late"`
	Early                 int     `json:"early"`
	LatenessP50           float64 `json:"lateness_p50_seconds"`
	LatenessP99           float64 `json:"lateness_p99_seconds"`
	LatenessMax           float64 `json:"lateness_max_seconds"`
	EarlyMax              float64 `json:"early_max_seconds"`
	// LeadGiven is join_at minus admission (DEPLOYING): how early the
	// controller started the bot. ReadyMargin is join_at minus the bot's
	// first report: how long it was ready before it was due (negative: it
	// was not ready in time, and ReadyLate counts those).
	LeadGivenP50   float64 `json:"lead_given_p50_seconds"`
	LeadGivenMin   float64 `json:"lead_given_min_seconds"`
	ReadyMarginP50 float64 `json:"ready_margin_p50_seconds"`
	ReadyMarginMin float64 `json:"ready_margin_min_seconds"`
	ReadyLate      int     `json:"ready_late"`
}

// summarize computes onTime for outs with the on-time window in seconds.
func summarize(outs []botOutcome, window float64) onTime {
	s := onTime{Bots: len(outs)}
	var late, lead, margin []float64
	onTime2s := 0
	for _, o := range outs {
		if d, ok := o.first["DEPLOYING"]; ok {
			lead = append(lead, o.JoinAt.Sub(d).Seconds())
		}
		if r, ok := o.readyAt(); ok {
			m := o.JoinAt.Sub(r).Seconds()
			margin = append(margin, m)
			if m < 0 {
				s.ReadyLate++
			}
		} else {
			s.ReadyLate++
		}
		if !o.Entered {
			s.NeverEntered++
			continue
		}
		s.Entered++
		l := o.lateness()
		late = append(late, l)
		switch {
		case math.Abs(l) <= window:
			s.OnTime++
		case l > window:
			s.Late++
		default:
			s.Early++
		}
		if math.Abs(l) <= unscaledWindow {
			onTime2s++
		}
		s.EarlyMax = max(s.EarlyMax, -l)
	}
	if s.Bots > 0 {
		s.OnTimeRatio = round4(float64(s.OnTime) / float64(s.Bots))
		s.OnTimeRatioUnscaled2s = round4(float64(onTime2s) / float64(s.Bots))
	}
	s.LatenessP50, s.LatenessP99, s.LatenessMax = quantile(late, 0.5), quantile(late, 0.99), quantile(late, 1)
	s.LeadGivenP50, s.LeadGivenMin = quantile(lead, 0.5), quantile(lead, 0)
	s.ReadyMarginP50, s.ReadyMarginMin = quantile(margin, 0.5), quantile(margin, 0)
	s.EarlyMax = round3(s.EarlyMax)
	return s
}

// quantile is the nearest-rank q-quantile of xs in seconds, to the
// millisecond (0 for no samples; q 0 is the minimum, 1 the maximum).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return round3(s[min(max(i, 0), len(s)-1)])
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// groupBy splits outs by key, keeping their order.
func groupBy(outs []botOutcome, key func(botOutcome) string) map[string][]botOutcome {
	g := map[string][]botOutcome{}
	for _, o := range outs {
		g[key(o)] = append(g[key(o)], o)
	}
	return g
}

// ofKind keeps the outcomes of one kind of bot.
func ofKind(outs []botOutcome, kind string) []botOutcome {
	var k []botOutcome
	for _, o := range outs {
		if o.Kind == kind {
			k = append(k, o)
		}
	}
	return k
}

// endState names how a bot that never entered ended: "FATAL/queue_timeout",
// or "stuck in QUEUED" when it has not ended at all.
func endState(o botOutcome) string {
	if o.Status == "DONE" || o.Status == "FATAL" {
		return o.Status + "/" + o.Reason
	}
	return "stuck in " + o.Status
}
