package main

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Kinds of bots in the scenario.
const (
	kindScheduled = "scheduled"
	kindAdHoc     = "ad_hoc"
)

// The scenario in real-world time (scaled when run): each wave's bots are
// created over a few minutes, from a quarter of an hour before they are
// due, so every one of them is at least RESERVE_AHEAD (10 min) ahead and
// may reserve capacity; waves are ten minutes apart, so the next wave is
// being reserved while the last one is in its calls; the ad hoc burst
// lands between the waves, when its bots can take what no reservation
// holds; the controller is killed shortly before the last wave is due,
// when that wave's ECS bots should be admitted.
const (
	firstWaveAt  = 15 * time.Minute
	waveGap      = 10 * time.Minute
	createAhead  = 15 * time.Minute  // the first bots of a wave are created this long before it is due
	createWindow = 200 * time.Second // and the last ones this much later
	adHocBefore  = 200 * time.Second // the ad hoc burst is created this long before the second wave
	adHocWindow  = 10 * time.Second  // over this long
	defaultCall  = 200 * time.Second
	// maxDuration is what every scheduled bot declares as its meeting's
	// longest length (max_duration_seconds): the call and a margin. Its
	// reserved window ends there, not at MAX_BOT_LIFETIME.
	maxDuration     = 5 * time.Minute
	defaultKillLead = 100 * time.Second
)

// meetingURLs are the meeting platforms the bots go to, in turn: each has
// its own Coolify slot pool (and image, so its own cold pull).
var meetingURLs = []string{
	"https://meet.google.com/abc-defg-hij",
	"https://zoom.us/j/1234567890",
	"https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZmJk%40thread.v2/0",
}

// wave is one group of scheduled bots due at the same moment; offsets are
// wall-clock durations from the scenario's start (already scaled).
type wave struct {
	Number     int     `json:"wave"`
	Bots       int     `json:"bots"`
	JoinAt     float64 `json:"join_at_seconds"`
	CreateFrom float64 `json:"created_from_seconds"`
	CreateTo   float64 `json:"created_to_seconds"`
	joinAt     time.Duration
	createFrom time.Duration
	createTo   time.Duration
}

// plannedBot is one bot to create.
type plannedBot struct {
	Kind       string
	Wave       int // 1.. for scheduled bots, 0 for ad hoc ones
	Seq        int
	CreateAt   time.Duration // from the scenario's start
	JoinAt     time.Duration // from the scenario's start; 0 for ad hoc bots
	MeetingURL string
}

// plan is the whole scenario, scaled to wall-clock time.
type plan struct {
	Waves     []wave
	AdHoc     int
	AdHocAt   time.Duration
	Call      time.Duration
	KillAt    time.Duration // 0: no kill
	KillWave  int
	KillDown  time.Duration
	Bots      []plannedBot // in creation order
	Scheduled int
}

// makePlan lays the scenario out for o.
func makePlan(o schedOptions) (plan, error) {
	if o.waves < 2 && o.adHoc > 0 {
		return plan{}, fmt.Errorf("--sched-waves %d: the ad hoc burst lands before the second wave, so at least 2", o.waves)
	}
	s := func(d time.Duration) time.Duration { return scaled(d, o.scale) }
	p := plan{AdHoc: o.adHoc, Call: s(o.call), KillDown: s(o.killDown)}
	for i := range o.waves {
		join := firstWaveAt + time.Duration(i)*waveGap
		w := wave{Number: i + 1, Bots: o.waveBots, joinAt: s(join), createFrom: s(join - createAhead),
			createTo: s(join - createAhead + createWindow)}
		w.JoinAt, w.CreateFrom, w.CreateTo = seconds(w.joinAt), seconds(w.createFrom), seconds(w.createTo)
		p.Waves = append(p.Waves, w)
		for j := range o.waveBots {
			at := w.createFrom + time.Duration(j)*(w.createTo-w.createFrom)/time.Duration(max(o.waveBots, 1))
			p.Bots = append(p.Bots, plannedBot{Kind: kindScheduled, Wave: w.Number, Seq: len(p.Bots), CreateAt: at,
				JoinAt: w.joinAt, MeetingURL: meetingURLs[j%len(meetingURLs)]})
		}
		p.Scheduled += o.waveBots
	}
	if o.adHoc > 0 {
		p.AdHocAt = s(firstWaveAt + waveGap - adHocBefore)
		for j := range o.adHoc {
			at := p.AdHocAt + time.Duration(j)*s(adHocWindow)/time.Duration(o.adHoc)
			p.Bots = append(p.Bots, plannedBot{Kind: kindAdHoc, Seq: len(p.Bots), CreateAt: at,
				MeetingURL: meetingURLs[j%len(meetingURLs)]})
		}
	}
	if o.killBefore > 0 {
		p.KillWave = o.waves
		p.KillAt = p.Waves[o.waves-1].joinAt - s(o.killBefore)
	}
	slices.SortStableFunc(p.Bots, func(a, b plannedBot) int { return cmp.Compare(a.CreateAt, b.CreateAt) })
	return p, nil
}

// lastJoin is when the last wave is due.
func (p plan) lastJoin() time.Duration {
	if len(p.Waves) == 0 {
		return 0
	}
	return p.Waves[len(p.Waves)-1].joinAt
}
