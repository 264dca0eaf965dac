package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
)

// ClientID names one run of a replica: its River client ID (so a job's
// attempted_by says who works it) and its session's identity (so anyone can
// ask whether it is alive). A restarted replica is a new run with a new ID:
// the jobs its previous run left running belong to a dead client.
func ClientID(replica string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	if len(replica) > 80 {
		replica = replica[:80]
	}
	return replica + "@" + hex.EncodeToString(b[:])
}

// ourClient matches the River client IDs ClientID makes. Any other River
// client (a replica of an older version, a tool) holds no session identity
// and is left to River's own rescuer.
var ourClient = regexp.MustCompile(`^.+@[0-9a-f]{8}$`)

// SweepStore is what the sweeper needs of the database.
type SweepStore interface {
	RunningJobWorkers(ctx context.Context) ([]string, error)
	ReplicasAlive(ctx context.Context, identities []string) (map[string]bool, error)
	RequeueJobsOf(ctx context.Context, clients []string, now time.Time) (int64, error)
}

// JobSweeper is the leader's fast rescuer: the running jobs of a replica
// whose session is gone (it died) are made available again at once, so a
// bot whose reconcile died with its replica is reconciled again within
// seconds, not when River's rescuer gets to it (45–75 s).
type JobSweeper struct {
	Store  SweepStore
	Clock  clock.Clock
	Logger *zap.Logger
}

// RunOnce requeues the running jobs of dead replicas; it returns how many.
func (s *JobSweeper) RunOnce(ctx context.Context) (int, error) {
	workers, err := s.Store.RunningJobWorkers(ctx)
	if err != nil || len(workers) == 0 {
		return 0, err
	}
	alive, err := s.Store.ReplicasAlive(ctx, workers)
	if err != nil {
		return 0, err
	}
	var dead []string
	for _, w := range workers {
		if !alive[w] && ourClient.MatchString(w) {
			dead = append(dead, w)
		}
	}
	if len(dead) == 0 {
		return 0, nil
	}
	n, err := s.Store.RequeueJobsOf(ctx, dead, s.Clock.Now())
	if n > 0 {
		s.Logger.Info("requeued the running jobs of replicas that ended", zap.Strings("replicas", dead), zap.Int64("jobs", n))
	}
	return int(n), err
}
