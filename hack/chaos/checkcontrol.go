package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// checkLeaders: never two leaders, one again within maxLeaderGap (a
// Postgres outage excepted), exactly one at the end.
func (c *chaos) checkLeaders(ctx context.Context, r *report) error {
	gaps, dual, maxLeaders, _ := c.leaders.summary()
	r.MaxLeadersSeen = maxLeaders
	if dual > 0 {
		c.viol.add(kindTwoLeaders, "two replicas reported meeboter_leader 1 in %d consecutive scrape rounds", dual)
	}
	down, up := c.pg.outageWindow()
	for _, g := range gaps {
		if g.Until.Before(c.start) {
			continue // before the first election
		}
		from := g.From
		if !up.IsZero() && g.From.Before(up) && g.Until.After(down) {
			from = maxTime(from, up) // nobody can lead without Postgres
		}
		d := g.Until.Sub(from)
		r.LongestLeaderGapSeconds = max(r.LongestLeaderGapSeconds, round2(d.Seconds()))
		if d > maxLeaderGap {
			c.viol.add(kindLeaderGap, "no leader for %s from %s", d.Round(100*time.Millisecond), g.From.Format(time.TimeOnly))
		}
	}
	r.LeadersAtEnd = c.leaders.finalRound(ctx)
	if r.LeadersAtEnd != 1 {
		c.viol.add(kindLeadersAtEnd, "%d replicas report meeboter_leader 1 at the end", r.LeadersAtEnd)
	}
	return nil
}

// checkRecovery summarises the kills: p50/p99 of every recovery sample,
// the Postgres outage's recovery.
func (c *chaos) checkRecovery(ctx context.Context, r *report) error {
	k := c.kills
	k.mu.Lock()
	r.Kills, r.KillLog, r.Unrecovered = len(k.kills), slices.Clone(k.kills), k.unrecovered
	samples := slices.Clone(k.samples)
	for _, g := range k.leaderGaps {
		r.LeaderGapSamples = append(r.LeaderGapSamples, round2(g))
	}
	k.mu.Unlock()
	r.RecoverySamples = len(samples)
	r.RecoveryP50Seconds, r.RecoveryP99Seconds = round2(percentile(samples, 50)), round2(percentile(samples, 99))
	if r.RecoveryP99Seconds > c.opts.recoveryP99Limit.Seconds() {
		c.viol.add(kindRecoveryP99, "recovery p99 %.2f s is above %s", r.RecoveryP99Seconds, c.opts.recoveryP99Limit)
	}
	if down, up := c.pg.outageWindow(); !up.IsZero() {
		r.PostgresOutageSeconds = round2(up.Sub(down).Seconds())
		c.pg.mu.Lock()
		if c.pg.ok {
			v := round2(c.pg.recovered.Seconds())
			r.PostgresOutageRecoverySeconds = &v
		}
		c.pg.mu.Unlock()
	}
	if r.Kills == 0 {
		return nil
	}
	honoured, err := replicaIDsHonoured(ctx, c.sys, c.incarnations())
	if err != nil {
		return err
	}
	if !honoured {
		c.viol.add(kindReplicaIDs, "no River job names a REPLICA_ID as its worker: the jobs a killed replica held cannot be found, so bot recoveries were not measured")
	}
	return nil
}

// incarnations are every REPLICA_ID the run used.
func (c *chaos) incarnations() []string {
	var ids []string
	for _, r := range c.sys.replicas {
		r.mu.Lock()
		for i := 1; i <= r.incarnation; i++ {
			ids = append(ids, fmt.Sprintf("%s-%d", r.name, i))
		}
		r.mu.Unlock()
	}
	return ids
}

// checkJobs: no River job may be discarded.
func (c *chaos) checkJobs(ctx context.Context, r *report) error {
	rows, err := c.sys.db.Query(ctx, `SELECT kind, count(*)::int FROM river_job WHERE state = 'discarded' GROUP BY kind`)
	if err != nil {
		return err
	}
	r.DiscardedJobs = map[string]int{}
	var kind string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&kind, &n}, func() error {
		r.DiscardedJobs[kind] = n
		c.viol.add(kindDiscardedJob, "%d %s jobs discarded", n, kind)
		return nil
	})
	return err
}

// checkWebhooks: every callback bot's end reached its receiver, signed.
func (c *chaos) checkWebhooks(_ context.Context, r *report) error {
	for _, h := range c.sys.hooks {
		d, bad := h.counts()
		r.WebhookDeliveries += d
		r.WebhookBadSignatures += bad
	}
	if r.WebhookBadSignatures > 0 {
		c.viol.add(kindWebhookSignature, "%d deliveries failed signature verification", r.WebhookBadSignatures)
	}
	missing := c.missingWebhooks()
	r.WebhooksMissing = len(missing)
	for _, m := range missing {
		c.viol.add(kindWebhookMissing, "%s", m)
	}
	return nil
}

// missingWebhooks lists callback bots whose terminal status has not
// reached their receiver.
func (c *chaos) missingWebhooks() []string {
	var out []string
	c.tracker.each(func(id string, b *botState) {
		if b.plan == nil || !b.plan.callback || !b.terminal() {
			return
		}
		h := c.sys.hooks[b.plan.seq%len(c.sys.hooks)]
		if !h.delivered(id, b.view.Status) {
			out = append(out, fmt.Sprintf("bot %s ended %s but its callback never got that status", id, b.view.Status))
		}
	})
	return out
}
