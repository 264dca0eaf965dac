package observer

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// Clock is the observer's time source.
type Clock interface{ Now() time.Time }

// Store is what the observer needs of the database.
type Store interface {
	LiveDeployments(ctx context.Context, platform string) ([]store.Deployment, error)
	RecordObservation(ctx context.Context, d store.Deployment, o store.Observation, refresh time.Duration, now time.Time) (bool, error)
}

// Observer observes one platform.
type Observer struct {
	Store    Store
	Platform platform.Platform
	Clock    Clock
	// CreateGrace is how long a just-created workload may be absent from the
	// list before it is reported missing (eventual consistency).
	CreateGrace time.Duration
	// ProgressRefresh is how often a workload the platform keeps reporting
	// pending or starting has its progress time (and so its deploy
	// deadline) moved on: a quarter of the deploy timeout keeps a healthy
	// slow deploy alive at one write per period.
	ProgressRefresh time.Duration
	Logger          *zap.Logger
}

// RunOnce lists the platform once and records every change; it returns how
// many deployments changed.
func (o *Observer) RunOnce(ctx context.Context) (int, error) {
	deps, err := o.Store.LiveDeployments(ctx, o.Platform.Name())
	if err != nil || len(deps) == 0 {
		return 0, err
	}
	listed, err := o.Platform.List(ctx)
	if err != nil {
		return 0, err // absence is evidence only in a complete list
	}
	byName := make(map[string]platform.Listed, len(listed))
	for _, l := range listed {
		// A platform that cannot name a workload any more (ECS drops a
		// stopped task's tags) lists it by its external id.
		key := l.Name
		if key == "" {
			key = externalKey(l.ExternalID)
		}
		if prev, dup := byName[key]; !dup || prev.Phase == platform.PhaseExited {
			byName[key] = l // a live process wins over an old exit record
		}
	}
	now := o.Clock.Now()
	changed := 0
	for _, d := range deps {
		if d.State == store.DeploymentPending {
			continue // nothing created yet
		}
		obs := o.classify(d, byName, now)
		ok, err := o.Store.RecordObservation(ctx, d, obs, o.ProgressRefresh, now)
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
			o.Logger.Debug("workload observed", zap.String("bot_id", d.BotID.String()), zap.Int("attempt", d.Attempt),
				zap.String("observed", obs.Observed))
		}
	}
	return changed, nil
}

// externalKey keys a workload listed by external id only.
func externalKey(id string) string { return "\x00" + id }

func (o *Observer) classify(d store.Deployment, byName map[string]platform.Listed, now time.Time) store.Observation {
	l, ok := byName[d.Name]
	if !ok && d.ExternalID != nil {
		l, ok = byName[externalKey(*d.ExternalID)]
	}
	switch {
	case !ok && d.State == store.DeploymentStopping:
		return store.Observation{Observed: store.ObservedMissing} // asked to stop, and gone
	case !ok && now.Sub(d.UpdatedAt) < o.CreateGrace:
		return store.Observation{Observed: store.ObservedPending} // just created: not listed yet is no progress either
	case !ok:
		return store.Observation{Observed: store.ObservedMissing}
	}
	switch l.Phase {
	case platform.PhaseExited:
		return store.Observation{Observed: store.ObservedExited, ExitCode: l.ExitCode}
	case platform.PhaseStopping:
		return store.Observation{Observed: store.ObservedStopping, ExitCode: l.ExitCode}
	case platform.PhaseRunning:
		return store.Observation{Observed: store.ObservedRunning}
	case platform.PhasePending, platform.PhaseStarting:
		return store.Observation{Observed: store.ObservedPending, Progress: true}
	}
	return store.Observation{Observed: store.ObservedPending}
}
