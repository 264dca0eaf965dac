package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// Store is what the collector needs of the database.
type Store interface {
	LiveDeployments(ctx context.Context, platform string) ([]store.Deployment, error)
}

// Collector collects the orphans of one platform.
type Collector struct {
	Store    Store
	Platform platform.Platform
	Clock    clock.Clock
	// Grace is the minimum age of a workload before it may be collected.
	Grace  time.Duration
	Logger *zap.Logger
	// Metrics counts the orphans collected; nil records nothing.
	Metrics *metrics.Metrics
}

// list lists the platform completely: every workload, or (a platform that
// lists ids cheaply and describes by id) the ids of every running one, for
// RunOnce to read those no deployment owns.
func (c *Collector) list(ctx context.Context) ([]platform.Listed, []string, error) {
	lister, ok := c.Platform.(platform.IDLister)
	if _, describes := c.Platform.(platform.Describer); !ok || !describes {
		listed, err := c.Platform.List(ctx)
		return listed, nil, err
	}
	ids, err := lister.ListIDs(ctx)
	if ids == nil {
		ids = []string{}
	}
	return nil, ids, err
}

// RunOnce stops every orphan older than the grace age; it returns how many.
func (c *Collector) RunOnce(ctx context.Context) (int, error) {
	// List before reading rows: a workload created after the rows were read
	// would otherwise look like an orphan (its row is written first).
	listed, ids, err := c.list(ctx)
	if err != nil {
		return 0, err
	}
	deps, err := c.Store.LiveDeployments(ctx, c.Platform.Name())
	if err != nil {
		return 0, err
	}
	owned := make(map[string]bool, len(deps))
	ownedExternal := make(map[string]bool, len(deps))
	for _, d := range deps {
		owned[d.Name] = true
		if d.ExternalID != nil {
			ownedExternal[*d.ExternalID] = true
		}
	}
	if ids != nil {
		// Only what no live deployment owns by external id is read.
		var unowned []string
		for _, id := range ids {
			if !ownedExternal[id] {
				unowned = append(unowned, id)
			}
		}
		if len(unowned) > 0 {
			// One the platform no longer knows is no orphan to stop.
			if listed, _, err = c.Platform.(platform.Describer).Describe(ctx, unowned); err != nil {
				return 0, err
			}
		}
	}
	now := c.Clock.Now()
	collected := 0
	var errs []error
	for _, l := range listed {
		// A workload of unknown age is treated as new: never collect what
		// might be being created right now.
		// A workload listed without a name (ECS drops a stopped task's
		// tags) is owned through its external id.
		if l.Released || owned[l.Name] || (l.Name == "" && ownedExternal[l.ExternalID]) || l.CreatedAt.IsZero() ||
			now.Sub(l.CreatedAt) < c.Grace {
			continue
		}
		if _, err := c.Platform.Stop(ctx, l.Name, l.ExternalID); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", l.Name, err)) // one stuck orphan must not shield the others
			continue
		}
		// An exited orphan's Stop only cleans up its record (ECS lists a
		// stopped task for an hour, and every pass sees it again): only a
		// live one is counted, in the result and in the metric alike.
		if l.Phase != platform.PhaseExited {
			c.Logger.Info("orphan workload stopped", zap.String("workload", l.Name), zap.String("external_id", l.ExternalID))
			c.Metrics.OrphanCollected(c.Platform.Name())
			collected++
		}
	}
	return collected, errors.Join(errs...)
}
