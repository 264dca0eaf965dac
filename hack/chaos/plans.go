package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// meetings are one link per meeting platform, so every pool type and
// task definition is used.
var meetings = []string{
	"https://meet.google.com/abc-defg-hij",
	"https://zoom.us/j/123456789",
	"https://teams.live.com/meet/9558483617843?p=Ab",
}

// Shares of the bots that get each treatment.
const (
	scheduledShare = 0.15
	recordingShare = 0.2
	callbackShare  = 0.2
	// recordingBytes keeps uploads small: the S3 path is exercised, not
	// the disk.
	recordingBytes = 64 << 10
)

// Stop actions a plan may take, and the phase it takes them in.
const (
	actLeave  = "leave"
	actCancel = "cancel"

	phaseQueued    = "QUEUED"    // SCHEDULED or QUEUED
	phaseDeploying = "DEPLOYING" // admitted, not yet joining
	phaseInCall    = "IN_CALL"   // joining, in the waiting room or in the call
)

// plan is what the runner will do with one bot.
type plan struct {
	seq       int
	meeting   string
	call      time.Duration
	joinIn    time.Duration // 0: join now
	recording bool
	callback  bool
	action    string // "", actLeave or actCancel
	actPhase  string
}

// planBots draws n plans: most bots just play their meeting; a share is
// scheduled, records, has a callback URL, or is left or cancelled in one
// of three phases.
func planBots(rng *rand.Rand, n int, o options) []plan {
	plans := make([]plan, n)
	for i := range plans {
		p := plan{seq: i + 1, meeting: meetings[rng.IntN(len(meetings))],
			call:      between(rng, o.callMin, o.callMax),
			recording: rng.Float64() < recordingShare, callback: rng.Float64() < callbackShare}
		if rng.Float64() < scheduledShare {
			p.joinIn = between(rng, o.joinMin, o.joinMax)
		}
		p.action, p.actPhase = drawAction(rng)
		plans[i] = p
	}
	return plans
}

// drawAction: 8 % cancelled while queued, 7 % left or cancelled while
// deploying, 10 % left or cancelled in the call.
func drawAction(rng *rand.Rand) (action, phase string) {
	x := rng.Float64()
	switch {
	case x < 0.08:
		return actCancel, phaseQueued
	case x < 0.15:
		return pick(rng, actLeave, actCancel), phaseDeploying
	case x < 0.25:
		return pick(rng, actLeave, actLeave, actCancel), phaseInCall
	}
	return "", ""
}

func pick(rng *rand.Rand, choices ...string) string { return choices[rng.IntN(len(choices))] }

// between is a uniformly random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// body is the create request of p. The chaos metadata (run and sequence
// number) lets the checks count every accepted create exactly once.
func (p plan) body(run string, now time.Time, callbacks []string) map[string]any {
	sim := map[string]any{"call_seconds": p.call.Seconds()}
	b := map[string]any{"meeting_url": p.meeting, "bot_name": fmt.Sprintf("chaos-%d", p.seq)}
	if p.recording {
		b["recording"] = map[string]any{"enabled": true}
		sim["recording_bytes"] = recordingBytes
	}
	if p.callback {
		b["callback_url"] = callbacks[p.seq%len(callbacks)] + "/hooks/" + fmt.Sprint(p.seq)
	}
	if p.joinIn > 0 {
		b["join_at"] = now.Add(p.joinIn).UTC().Format(time.RFC3339Nano)
	}
	b["metadata"] = map[string]any{"simulate": sim, "chaos": map[string]any{"run": run, "seq": p.seq}}
	return b
}

// phaseOf maps a status to the phase a plan acts in ("" when the bot is
// past them all).
func phaseOf(status string) string {
	switch status {
	case "SCHEDULED", "QUEUED":
		return phaseQueued
	case "DEPLOYING":
		return phaseDeploying
	case "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL":
		return phaseInCall
	}
	return ""
}

// phaseOrder ranks phases, to tell a bot that is past its plan's phase.
var phaseOrder = map[string]int{phaseQueued: 1, phaseDeploying: 2, phaseInCall: 3}
