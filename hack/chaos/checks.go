package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// restartEndLimit is how soon a bot whose Coolify slot container was
// crashed (and restarted by Docker) must have ended.
const restartEndLimit = 20 * time.Second

// check runs every check and fills the report; violations go to c.viol.
func (c *chaos) check(ctx context.Context) *report {
	r := &report{Mode: "default", Seed: c.opts.seed, Replicas: c.opts.replicas, Planned: len(c.plans),
		ChaosPhaseSeconds: c.opts.duration.Seconds(), WorkDir: c.sys.dir, FatalDetails: []string{},
		LeaderGapSamples: []float64{}, KillLog: []killRecord{}}
	if c.opts.short {
		r.Mode = "short"
	}
	checks := []struct {
		name string
		fn   func(context.Context, *report) error
	}{
		{"bots", c.checkBots}, {"workloads", c.checkWorkloads}, {"stops", c.checkStops},
		{"leaders", c.checkLeaders}, {"recovery", c.checkRecovery}, {"jobs", c.checkJobs},
		{"webhooks", c.checkWebhooks},
	}
	for _, ch := range checks {
		if err := ch.fn(ctx, r); err != nil {
			c.viol.add("check_failed", "%s: %v", ch.name, err)
		}
	}
	c.faults.mu.Lock()
	r.FaultWindows = append([]windowRecord{}, c.faults.windows...)
	r.Injections = append([]injectionRecord{}, c.faults.injections...)
	c.faults.mu.Unlock()
	r.BotCallAnswers = c.witness.answers()
	r.TotalSeconds = round2(time.Since(c.start).Seconds())
	r.Violations = c.viol.list()
	return r
}

// checkBots counts outcomes from the API's final list of every bot, and
// every accepted create in it exactly once.
func (c *chaos) checkBots(ctx context.Context, r *report) error {
	all, err := c.api.list(ctx, nil)
	if err != nil {
		return err
	}
	r.FatalByReason, r.DoneByReason, r.BotsByPlatform = map[string]int{}, map[string]int{}, map[string]int{}
	bySeq := map[int][]string{}
	for _, b := range all {
		bySeq[b.seq()] = append(bySeq[b.seq()], b.ID)
		c.tallyBot(r, b)
	}
	c.tracker.mu.Lock()
	accepted := map[int]string{}
	for k, v := range c.tracker.accepted {
		accepted[k] = v
	}
	rejected := slices.Clone(c.tracker.rejected)
	c.tracker.mu.Unlock()
	r.Accepted, r.CreatesNotAccepted = len(accepted), len(rejected)
	for _, e := range rejected {
		c.viol.add(kindCreateRejected, "%s", e)
	}
	for seq, id := range accepted {
		switch ids := bySeq[seq]; {
		case len(ids) == 0:
			r.LostCreates++
			c.viol.add(kindLostCreate, "create #%d was accepted as bot %s, which the API does not list", seq, id)
		case len(ids) > 1:
			r.DuplicateBots++
			c.viol.add(kindDuplicateBot, "create #%d exists %d times: %s", seq, len(ids), strings.Join(ids, ", "))
		}
	}
	for _, p := range c.plans {
		if _, ok := accepted[p.seq]; ok {
			r.Scheduled += b2i(p.joinIn > 0)
			r.Recording += b2i(p.recording)
			r.WithCallback += b2i(p.callback)
		}
	}
	r.StopActions, _ = c.acts.snapshot()
	return nil
}

// tallyBot counts one bot of the final list and checks its ending.
func (c *chaos) tallyBot(r *report, b botView) {
	r.BotsByPlatform[cmpOr(b.platform(), "none")]++
	switch b.Status {
	case "DONE":
		r.Done++
		r.DoneByReason[b.reason()]++
		if b.reason() == "completed" && b.Recording.Enabled && (b.RecordingSizeBytes == nil || *b.RecordingSizeBytes != recordingBytes) {
			c.viol.add(kindRecordingMissing, "bot %s is DONE/completed without its %d-byte recording", b.ID, recordingBytes)
		}
	case "FATAL":
		r.FatalByReason[b.reason()]++
		c.judgeFatal(r, b)
	default:
		r.Stuck++
		c.viol.add(kindStuck, "bot %s is still %s after the drain", b.ID, b.Status)
	}
	var injected string
	var injectedAt time.Time
	c.tracker.with(b.ID, func(s *botState) {
		if s != nil {
			injected, injectedAt = s.injected, s.injectedAt
		}
	})
	if injected == injectCoolifyCrash && (b.EndedAt == nil || b.EndedAt.Sub(injectedAt) > restartEndLimit) {
		c.viol.add(kindRestartNotEnded, "bot %s: its slot container was crashed at %s and restarted; the bot ended %s",
			b.ID, injectedAt.Format(time.TimeOnly), endedText(b.EndedAt, injectedAt))
	}
}

// judgeFatal counts a FATAL not caused by a destructive injection as a
// transient fault's doing (every planned bot behaves).
func (c *chaos) judgeFatal(r *report, b botView) {
	var injected string
	c.tracker.with(b.ID, func(s *botState) {
		if s != nil {
			injected = s.injected
		}
	})
	created, end := b.CreatedAt, time.Now()
	if b.EndedAt != nil {
		end = *b.EndedAt
	}
	windows := strings.Join(c.faults.during(created, end), "; ")
	line := fmt.Sprintf("bot %s FATAL/%s on %s (attempt %d), injected %q, during windows [%s]",
		b.ID, b.reason(), cmpOr(b.platform(), "none"), b.Attempt, injected, windows)
	r.FatalDetails = append(r.FatalDetails, line)
	if injected == "" {
		r.FatalFromTransientFaults++
		c.viol.add(kindTransientFatal, "%s", line)
	}
}

func endedText(ended *time.Time, since time.Time) string {
	if ended == nil {
		return "not at all"
	}
	return ended.Sub(since).Round(100*time.Millisecond).String() + " later"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
