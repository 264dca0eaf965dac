package app

import (
	"context"
	"time"

	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/leadtime"
	"github.com/meeboter/meeboter/pkg/store"
)

// leadTimes is what the controller knows of the platforms' create-to-ready
// times, and how it turns them into the lead of a scheduled bot.
type leadTimes struct {
	est *leadtime.Estimator
	// admit is, per platform in priority order, the estimate a scheduled
	// bot's admission uses: a warm slot on a Coolify pool (the pool warms
	// slots for the schedule), a cold start anywhere else.
	admit []leadtime.Key
}

func newLeadTimes(cfg config.Config, st *store.Store, plats platforms) *leadTimes {
	f := cfg.LeadFloors
	floors := leadtime.Floors{
		{Platform: config.PlatformLocal, Start: leadtime.Cold}:      f.Local,
		{Platform: config.PlatformAWS, Start: leadtime.Cold}:        f.AWS,
		{Platform: config.PlatformKubernetes, Start: leadtime.Cold}: f.Kubernetes,
		{Platform: config.PlatformCoolify, Start: leadtime.Warm}:    f.CoolifyWarm,
		{Platform: config.PlatformCoolify, Start: leadtime.Cold}:    f.CoolifyCold,
	}
	lt := &leadTimes{est: &leadtime.Estimator{Source: st, Floors: floors, TTL: 10 * time.Second}}
	for _, pc := range plats.list {
		name := pc.Platform.Name()
		admit := leadtime.Key{Platform: name, Start: leadtime.Cold}
		if name == plats.poolPlatform {
			lt.est.Keys = append(lt.est.Keys, leadtime.Key{Platform: name, Start: leadtime.Warm})
			admit.Start = leadtime.Warm
		}
		lt.est.Keys = append(lt.est.Keys, leadtime.Key{Platform: name, Start: leadtime.Cold})
		lt.admit = append(lt.admit, admit)
	}
	return lt
}

// forBot is how long before its join_at bot b is admitted: the lead of the
// platform its capacity is reserved on, else the longest of the platforms
// it may go to (on time wherever it lands).
func (lt *leadTimes) forBot(ctx context.Context, b store.Bot) time.Duration {
	if b.ReservedPlatform != nil {
		return lt.ForPlatform(ctx, *b.ReservedPlatform)
	}
	var lead time.Duration
	for _, k := range lt.admit {
		lead = max(lead, lt.est.For(ctx, k).Duration())
	}
	return lead
}

// ForPlatform is how long before its join_at a bot is admitted on platform.
func (lt *leadTimes) ForPlatform(ctx context.Context, platform string) time.Duration {
	for _, k := range lt.admit {
		if k.Platform == platform {
			return lt.est.For(ctx, k).Duration()
		}
	}
	return 0
}

// All is every estimate kept.
func (lt *leadTimes) All(ctx context.Context) []leadtime.Lead { return lt.est.All(ctx) }
