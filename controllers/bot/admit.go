package bot

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
)

// AdmitStore is what the Admitter needs of the database.
type AdmitStore interface {
	Admit(ctx context.Context, p store.PlatformLimit, now time.Time) ([]uuid.UUID, error)
}

// PlatformLimit is one platform's capacity, in priority order.
type PlatformLimit = store.PlatformLimit

// Admitter owns QUEUED → DEPLOYING: the oldest queued bots go to the first
// platform with room. It runs on capacity changes and periodically; the claim
// itself is one transaction counted from rows, so replicas agree.
type Admitter struct {
	Store     AdmitStore
	Platforms []PlatformLimit
	Clock     clock.Clock
	Logger    *zap.Logger
}

// admitSettle bounds how long a bot's creating transaction may run between
// taking its queued_at and committing, as far as admission cares: beyond
// it, a bot may land on a fallback platform while the first has room.
const admitSettle = time.Second

// RunOnce admits as many queued bots as there is room for.
func (a *Admitter) RunOnce(ctx context.Context) (int, error) {
	total := 0
	// A bot queued just before the pass may commit after the first
	// platform looked: the platforms after the first take only bots queued
	// settle before the pass, which the first ones have surely seen.
	seen := a.Clock.Now().Add(-admitSettle)
	for i, p := range a.Platforms {
		if i > 0 {
			p.QueuedBy = seen
		}
		ids, err := a.Store.Admit(ctx, p, a.Clock.Now())
		if err != nil {
			return total, err
		}
		for _, id := range ids {
			// Admission starts attempt 1: a bot is queued only once.
			a.Logger.Info("bot admitted", zap.String("bot_id", id.String()), zap.Int("attempt", 1),
				zap.String("platform", p.Platform), zap.String("status", string(store.StatusDeploying)))
		}
		total += len(ids)
	}
	return total, nil
}
