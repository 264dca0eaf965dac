package main

import (
	"context"
	"strings"
	"time"
)

// stopCall is a stop or delete a simulator saw take effect, with the bot
// attempt whose workload it hit (bot "" when the workload ran none: an
// idle pool slot).
type stopCall struct {
	Platform        string     `json:"platform"`
	At              time.Time  `json:"at"`
	Target          string     `json:"target"`
	WasRunning      bool       `json:"was_running"`
	LastListFailure *time.Time `json:"last_list_failure"`
	Bot             string     `json:"bot"`
	Attempt         int        `json:"attempt"`
}

// botFacts is what judging a stop needs to know of its bot.
type botFacts struct {
	known        bool
	ended        time.Time // zero while it ran
	finalAttempt int
	stopAt       time.Time // the runner's leave or cancel
	injectedAt   time.Time // a destructive injection
}

// judgeStop says whether a stop broke "stop means stop only when asked":
// a workload of a live bot's current attempt, running, that nobody asked
// to stop, was stopped. Within listWindow after a failed list call that is
// deleted_during_failed_list (what GC after a failed list would do);
// otherwise an unexpected stop. A stale attempt's workload, an idle slot,
// a workload already down, or a bot that had ended or was asked to stop
// are fine.
func judgeStop(s stopCall, b botFacts, listWindow time.Duration) string {
	switch {
	case !s.WasRunning || s.Bot == "" || !b.known:
		return ""
	case !b.injectedAt.IsZero() && !b.injectedAt.After(s.At):
		return ""
	case !b.stopAt.IsZero() && !b.stopAt.After(s.At):
		return ""
	case !b.ended.IsZero() && !b.ended.After(s.At):
		return ""
	case s.Attempt != b.finalAttempt:
		return ""
	case s.LastListFailure != nil && s.At.Sub(*s.LastListFailure) <= listWindow:
		return kindDeletedListFailed
	}
	return kindUnexpectedStop
}

// ecsStop is an ECS simulator StopRecord.
type ecsStop struct {
	At              time.Time  `json:"at"`
	TaskARN         string     `json:"task_arn"`
	ClientToken     string     `json:"client_token"`
	WasRunning      bool       `json:"was_running"`
	LastListFailure *time.Time `json:"last_list_failure"`
}

// coolifyStop is a Coolify simulator StopRecord.
type coolifyStop struct {
	At              time.Time  `json:"at"`
	Op              string     `json:"op"`
	AppUUID         string     `json:"app_uuid"`
	AppName         string     `json:"app_name"`
	WasRunning      bool       `json:"was_running"`
	LastListFailure *time.Time `json:"last_list_failure"`
}

// stopCalls reads both simulators' records and names each one's bot: an
// ECS task's from its client token (the deployment name), a Coolify
// slot's from the meeting its container played at that moment.
func (c *chaos) stopCalls(ctx context.Context) ([]stopCall, error) {
	var es []ecsStop
	if err := c.sys.ecs.get(ctx, "/_sim/stops", &es); err != nil {
		return nil, err
	}
	var cs []coolifyStop
	if err := c.sys.coolify.get(ctx, "/_sim/stops", &cs); err != nil {
		return nil, err
	}
	ps, err := c.sys.coolify.plays(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]stopCall, 0, len(es)+len(cs))
	for _, s := range es {
		// The token is the deployment name, plus ".<try>" after a capacity
		// refusal made the driver try afresh.
		name, _, _ := strings.Cut(s.ClientToken, ".")
		bot, attempt, _ := botOfWorkload(name)
		out = append(out, stopCall{Platform: "ecs", At: s.At, Target: s.TaskARN, WasRunning: s.WasRunning,
			LastListFailure: s.LastListFailure, Bot: bot, Attempt: attempt})
	}
	all := append(append([]play{}, ps.Live...), ps.Ended...)
	for _, s := range cs {
		call := stopCall{Platform: "coolify", At: s.At, Target: s.Op + " " + s.AppName, WasRunning: s.WasRunning,
			LastListFailure: s.LastListFailure}
		if p, ok := playAt(all, s.AppUUID, s.At); ok {
			call.Bot, call.Attempt = p.BotID, p.Attempt
		}
		out = append(out, call)
	}
	return out, nil
}

// playAt is the meeting container played at t.
func playAt(all []play, container string, t time.Time) (play, bool) {
	var found play
	ok := false
	for _, p := range all {
		if p.Container != container || p.Since.After(t) || (p.Until != nil && p.Until.Before(t)) {
			continue
		}
		if !ok || p.Since.After(found.Since) {
			found, ok = p, true
		}
	}
	return found, ok
}

// factsOf is what the tracker knows of bot.
func (c *chaos) factsOf(bot string) botFacts {
	var f botFacts
	c.tracker.with(bot, func(b *botState) {
		if b == nil {
			return
		}
		f = botFacts{known: true, ended: b.endedAt(), finalAttempt: b.view.Attempt, stopAt: b.stopAt, injectedAt: b.injectedAt}
	})
	return f
}

// listWindow is how soon after a failed list a stop counts as caused by
// it: two passes of the slowest controller that lists (GC).
func (o options) listWindow() time.Duration { return 2*o.gcInterval + 5*time.Second }
