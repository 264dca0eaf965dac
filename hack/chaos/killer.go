package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// recoveryLimit is how long a bot whose reconcile died with a replica may
// wait for its next completed reconcile before that is a violation.
const recoveryLimit = 60 * time.Second

// killRecord is one SIGKILL and what it cost.
type killRecord struct {
	Replica   string    `json:"replica"` // the incarnation killed
	At        time.Time `json:"at"`
	WasLeader bool      `json:"was_leader"`
	// RunningReconciles is how many reconcile_bot jobs the victim was
	// working; their bots' recoveries are samples.
	RunningReconciles int `json:"running_reconciles"`
}

// killLog is every kill and every recovery sample, in seconds.
type killLog struct {
	mu          sync.Mutex
	kills       []killRecord
	samples     []float64
	leaderGaps  []float64
	unrecovered int
	wg          sync.WaitGroup
}

func (k *killLog) add(r killRecord) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kills = append(k.kills, r)
}

func (k *killLog) sample(seconds float64, leaderGap bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.samples = append(k.samples, seconds)
	if leaderGap {
		k.leaderGaps = append(k.leaderGaps, seconds)
	}
}

// killLoop SIGKILLs a random replica every killMin..killMax while the
// phase lasts (but not around the Postgres restart), and restarts it after
// a moment.
func (c *chaos) killLoop(ctx, phase context.Context) {
	for n := 0; c.opts.maxKills == 0 || n < c.opts.maxKills; {
		if !sleepCtx(phase, c.rng.between(c.opts.killMin, c.opts.killMax)) {
			break
		}
		if c.pg.quiet(time.Now()) {
			continue
		}
		i := c.rng.intn(len(c.sys.replicas))
		c.killAndRestart(ctx, i)
		n++
	}
	c.kills.wg.Wait()
}

// killAndRestart kills replica i the way a crash would, starts measuring
// the recovery of what it held, and starts it again 0.5–3 s later.
func (c *chaos) killAndRestart(ctx context.Context, i int) {
	r := c.sys.replicas[i]
	victim, _ := r.current()
	jobs := c.busyMoment(ctx, victim)
	wasLeader := c.leaders.isLeader(r.name)
	c.sys.proxy.setDown(i, true)
	at := time.Now()
	r.kill()
	c.kills.add(killRecord{Replica: victim, At: at, WasLeader: wasLeader, RunningReconciles: len(jobs)})
	c.logf("SIGKILL %s (leader %v, %d reconciles running)", victim, wasLeader, len(jobs))
	c.kills.wg.Go(func() { c.measureRecovery(ctx, victim, at, jobs, wasLeader) })

	sleepCtx(ctx, c.rng.between(500*time.Millisecond, 3*time.Second))
	if err := c.launch(r); err != nil {
		c.logf("restart %s: %v", r.name, err)
		return
	}
	if err := r.ready(ctx); err != nil {
		c.logf("restart %s: %v", r.name, err)
	}
	c.sys.proxy.setDown(i, false)
}

// busyWait is how long a kill waits for its victim to be working a
// reconcile: a kill mid-reconcile is the crash worth testing, and the
// only one that yields bot recovery samples.
const busyWait = 2 * time.Second

// busyMoment waits up to busyWait for victim to be working a reconcile,
// and returns the jobs it works at that moment (none when it never was).
func (c *chaos) busyMoment(ctx context.Context, victim string) []runningJob {
	deadline := time.Now().Add(busyWait)
	for {
		jobs, err := runningReconciles(ctx, c.sys, victim)
		if err != nil {
			c.logf("reading %s's running jobs: %v", victim, err)
		}
		if len(jobs) > 0 || time.Now().After(deadline) || !sleepCtx(ctx, 20*time.Millisecond) {
			return jobs
		}
	}
}

// runningJob is a reconcile_bot job a replica was working.
type runningJob struct {
	id  int64
	bot string
}

// runningReconciles are the reconcile_bot jobs replica id is working now:
// River's attempted_by ends with the worker's client id, which is the
// REPLICA_ID, or the REPLICA_ID and "@<run>".
func runningReconciles(ctx context.Context, s *system, id string) ([]runningJob, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT id, args->>'bot_id' FROM river_job
		WHERE kind = 'reconcile_bot' AND state = 'running'
		AND split_part(attempted_by[cardinality(attempted_by)], '@', 1) = $1`, id)
	if err != nil {
		return nil, err
	}
	var out []runningJob
	var j runningJob
	_, err = pgx.ForEachRow(rows, []any{&j.id, &j.bot}, func() error {
		out = append(out, j)
		return nil
	})
	return out, err
}

// diedWithVictim keeps the jobs the victim did not complete: one whose last
// attempt began before the kill and completed lost nothing, even when it
// finished after at (between the read and the SIGKILL taking effect; a
// reconcile that sees its bot move runs again in the same job, so such a
// job has no later attempt to look for). A job swept back and run again
// elsewhere has a later attempt and counts as died.
func diedWithVictim(ctx context.Context, s *system, jobs []runningJob, at time.Time) ([]string, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	rows, err := s.db.Query(ctx, `SELECT id FROM river_job WHERE id = ANY($1) AND state = 'completed' AND attempted_at <= $2`, ids, at)
	if err != nil {
		return nil, err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var bots []string
	for _, j := range jobs {
		if !slices.Contains(done, j.id) {
			bots = append(bots, j.bot)
		}
	}
	return bots, nil
}

// measureRecovery waits for each bot's first reconcile completed after
// the kill, and, when the victim led, for a leader again. Each wait is a
// sample; one longer than recoveryLimit is a violation.
func (c *chaos) measureRecovery(ctx context.Context, victim string, at time.Time, jobs []runningJob, wasLeader bool) {
	var wg sync.WaitGroup
	if wasLeader {
		wg.Go(func() {
			if err := c.leaders.waitLeader(ctx, at, recoveryLimit); err != nil {
				c.viol.add(kindLeaderGap, "no leader within %s of killing leader %s", recoveryLimit, victim)
				c.kills.sample(recoveryLimit.Seconds(), true)
				return
			}
			c.kills.sample(c.leaders.leaderSince(at).Sub(at).Seconds(), true)
		})
	}
	died, err := diedWithVictim(ctx, c.sys, jobs, at)
	if err != nil {
		c.logf("reading %s's jobs after the kill: %v", victim, err)
	}
	left := map[string]bool{}
	for _, b := range died {
		left[b] = true
	}
	deadline := at.Add(recoveryLimit)
	for len(left) > 0 && time.Now().Before(deadline) && sleepCtx(ctx, 250*time.Millisecond) {
		done, err := completedSince(ctx, c.sys, keys(left), at)
		if err != nil {
			continue
		}
		for bot, fin := range done {
			c.kills.sample(fin.Sub(at).Seconds(), false)
			delete(left, bot)
		}
	}
	for bot := range left {
		c.kills.mu.Lock()
		c.kills.unrecovered++
		c.kills.samples = append(c.kills.samples, recoveryLimit.Seconds())
		c.kills.mu.Unlock()
		c.viol.add(kindUnrecovered, "bot %s: no reconcile completed within %s of killing %s", bot, recoveryLimit, victim)
	}
	wg.Wait()
}

// completedSince is, per bot, the end of its first reconcile_bot job that
// started after at and completed.
func completedSince(ctx context.Context, s *system, bots []string, at time.Time) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT args->>'bot_id', min(finalized_at) FROM river_job
		WHERE kind = 'reconcile_bot' AND state = 'completed' AND args->>'bot_id' = ANY($1) AND attempted_at > $2
		GROUP BY 1`, bots, at)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	var bot string
	var fin time.Time
	_, err = pgx.ForEachRow(rows, []any{&bot, &fin}, func() error {
		out[bot] = fin
		return nil
	})
	return out, err
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// replicaIDsHonoured reports whether any incarnation's REPLICA_ID appears
// as a River worker: without it, running jobs cannot be attributed to the
// replica killed.
func replicaIDsHonoured(ctx context.Context, s *system, ids []string) (bool, error) {
	var found bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job, unnest(attempted_by) AS w
		WHERE split_part(w, '@', 1) = ANY($1::text[]))`, ids).Scan(&found)
	return found, err
}
