package observer

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// Store is what the observer needs of the database.
type Store interface {
	LiveDeployments(ctx context.Context, platform string) ([]store.Deployment, error)
	// ObservedDeployments is LiveDeployments with the bots' heartbeats, for
	// a platform.Describer.
	ObservedDeployments(ctx context.Context, platform string) ([]store.ObservedDeployment, error)
	RecordObservation(ctx context.Context, d store.Deployment, o store.Observation, refresh time.Duration, now time.Time) (bool, error)
}

// Observer observes one platform.
type Observer struct {
	Store    Store
	Platform platform.Platform
	Clock    clock.Clock
	// CreateGrace is how long a just-created workload may be absent from the
	// list before it is reported missing (eventual consistency).
	CreateGrace time.Duration
	// ProgressRefresh is how often a workload the platform keeps reporting
	// pending or starting has its progress time (and so its deploy
	// deadline) moved on: a quarter of the deploy timeout keeps a healthy
	// slow deploy alive at one write per period.
	ProgressRefresh time.Duration
	// Freshness decides which workloads of a platform.Describer a pass
	// reads (zero fields: DefaultSilence, DefaultMaxStaleness); other
	// platforms are listed whole every pass.
	Freshness Freshness
	Logger    *zap.Logger

	mu sync.Mutex // one pass at a time
	// lastRead is when this observer last read each live workload of a
	// Describer, by deployment name.
	lastRead map[string]time.Time
}

// RunOnce observes the platform once and records every change; it returns
// how many deployments changed.
func (o *Observer) RunOnce(ctx context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.Platform.(platform.Describer); ok {
		return o.describeOnce(ctx, d)
	}
	deps, err := o.Store.LiveDeployments(ctx, o.Platform.Name())
	if err != nil || len(deps) == 0 {
		return 0, err
	}
	listed, err := o.Platform.List(ctx)
	if err != nil {
		return 0, err // absence is evidence only in a complete list
	}
	return o.record(ctx, deps, index(listed), o.Clock.Now())
}

// describeOnce reads only the workloads whose state the pass cannot infer
// (see NeedsRead), by external id: a fleet of bots beating on time costs no
// platform call. A deployment without an external id that needs a read
// makes the pass list the platform whole, as for any platform.
func (o *Observer) describeOnce(ctx context.Context, p platform.Describer) (int, error) {
	deps, err := o.Store.ObservedDeployments(ctx, o.Platform.Name())
	if err != nil {
		return 0, err
	}
	now := o.Clock.Now()
	last := o.lastRead
	o.lastRead = make(map[string]time.Time, len(deps)) // forget the deployments gone
	for _, d := range deps {
		if at, ok := last[d.Name]; ok {
			o.lastRead[d.Name] = at
		}
	}
	read, spare, list := o.due(deps, now)
	switch {
	case list:
		listed, err := o.Platform.List(ctx)
		if err != nil {
			return 0, err // absence is evidence only in a complete list
		}
		return o.recordRead(ctx, deps, index(listed), now)
	case len(read) == 0:
		return 0, nil
	}
	read = o.topUp(read, spare)
	ids := make([]string, len(read))
	for i, d := range read {
		ids[i] = *d.ExternalID
	}
	found, _, err := p.Describe(ctx, ids)
	if err != nil {
		return 0, err // no answer is no evidence
	}
	// Every id was answered: one not found is missing, evidence of
	// absence for that workload (within CreateGrace, not yet). Answers are
	// matched by the id asked, whatever name the workload carries.
	byID := make(map[string]platform.Listed, len(found))
	for _, l := range found {
		byID[externalKey(l.ExternalID)] = l
	}
	return o.recordRead(ctx, read, byID, now)
}

// due sorts the deployments of a pass: those to read by id, those worth
// reading when a call has room, and whether one can only be read by a list.
func (o *Observer) due(deps []store.ObservedDeployment, now time.Time) (read, spare []store.ObservedDeployment, list bool) {
	f := o.freshness()
	for _, d := range deps {
		switch NeedsRead(d, o.lastRead[d.Name], now, f) {
		case ReadList:
			list = true
		case ReadDescribe:
			read = append(read, d)
		case ReadNone:
			if o.spare(d, now, f) {
				spare = append(spare, d)
			}
		}
	}
	return read, spare, list
}

// recordRead notes deps as read now and records what was read of them.
func (o *Observer) recordRead(ctx context.Context, deps []store.ObservedDeployment, read map[string]platform.Listed, now time.Time) (int, error) {
	plain := make([]store.Deployment, len(deps))
	for i, d := range deps {
		plain[i] = d.Deployment
		o.lastRead[d.Name] = now
	}
	return o.record(ctx, plain, read, now)
}

func (o *Observer) freshness() Freshness {
	return Freshness{Silence: cmp.Or(o.Freshness.Silence, DefaultSilence),
		MaxStaleness: cmp.Or(o.Freshness.MaxStaleness, DefaultMaxStaleness)}
}

// spare reports whether d, which needs no read, is worth reading anyway
// when a call has room: it was not read for half its staleness.
func (o *Observer) spare(d store.ObservedDeployment, now time.Time, f Freshness) bool {
	if d.State != store.DeploymentRunning || d.ExternalID == nil || *d.ExternalID == "" ||
		(d.Observed != nil && *d.Observed == store.ObservedExited) {
		return false
	}
	return now.Sub(o.readAt(d)) >= f.MaxStaleness/2
}

// readAt is when d's workload was last read: by this observer, or by an
// observation recorded since.
func (o *Observer) readAt(d store.ObservedDeployment) time.Time {
	t := o.lastRead[d.Name]
	if d.ObservedAt != nil && d.ObservedAt.After(t) {
		t = *d.ObservedAt
	}
	return t
}

// topUp fills the last describe call of a pass with the spare workloads
// read longest ago: a call costs the same for 1 id as for 100, and what is
// read now need not be read when it goes stale.
func (o *Observer) topUp(read, spare []store.ObservedDeployment) []store.ObservedDeployment {
	room := (describeBatch - len(read)%describeBatch) % describeBatch
	if room == 0 || len(spare) == 0 {
		return read
	}
	slices.SortStableFunc(spare, func(a, b store.ObservedDeployment) int { return o.readAt(a).Compare(o.readAt(b)) })
	return append(read, spare[:min(room, len(spare))]...)
}

// describeBatch is how many ids a Describer reads in one call (ECS
// DescribeTasks' limit).
const describeBatch = 100

// index maps listed workloads by name, and by external id when nameless.
func index(listed []platform.Listed) map[string]platform.Listed {
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
	return byName
}

// record classifies every deployment against what was read and writes the
// changes.
func (o *Observer) record(ctx context.Context, deps []store.Deployment, byName map[string]platform.Listed, now time.Time) (int, error) {
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
		return store.Observation{Observed: store.ObservedExited, ExitCode: l.ExitCode, Code: l.Code}
	case platform.PhaseStopping:
		return store.Observation{Observed: store.ObservedStopping, ExitCode: l.ExitCode, Code: l.Code}
	case platform.PhaseRunning:
		return store.Observation{Observed: store.ObservedRunning}
	case platform.PhasePending, platform.PhaseStarting:
		// Pending with a reason (no node fits a pod, say) is waiting, not
		// progressing: the deploy deadline does not move.
		return store.Observation{Observed: store.ObservedPending, Progress: l.Code == "", Code: l.Code}
	}
	return store.Observation{Observed: store.ObservedPending}
}
