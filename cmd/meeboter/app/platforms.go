package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/pool"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform/coolify"
	"github.com/meeboter/meeboter/pkg/platform/local"
	"github.com/meeboter/meeboter/pkg/store"
)

// platforms is what the configured deployment platform needs run.
type platforms struct {
	list []controllers.PlatformConfig
	pool controllers.PoolRunner // the Coolify slot pool, when in use
	// poolPlatform names the platform whose deploying bots wait for slots.
	poolPlatform string
}

// buildPlatforms builds the configured platforms, in priority order. They ask
// the leader for an observation or a pool pass through st.Wake. m counts
// their API calls and the pool's corrections (nil: nothing is recorded).
func buildPlatforms(ctx context.Context, cfg config.Config, st *store.Store, log *zap.Logger, m *metrics.Metrics) (platforms, error) {
	var all platforms
	for _, name := range cfg.Platforms {
		var one platforms
		var err error
		switch name {
		case config.PlatformCoolify:
			one, err = buildCoolify(ctx, cfg, st, log, m)
		case config.PlatformAWS:
			one, err = buildAWS(ctx, cfg, log, m)
		case config.PlatformKubernetes:
			one, err = buildKubernetes(ctx, cfg, st, log)
		default:
			one, err = buildLocal(ctx, cfg, st, log)
		}
		if err != nil {
			return platforms{}, err
		}
		all.list = append(all.list, one.list...)
		if one.pool != nil {
			all.pool, all.poolPlatform = one.pool, one.poolPlatform
		}
	}
	return all, nil
}

// wake sends a wake-up to the leader; a lost one only delays the work to the
// loop's next period.
func wake(ctx context.Context, st *store.Store, log *zap.Logger, what string) func() {
	return func() {
		if err := st.Wake(context.WithoutCancel(ctx), what); err != nil {
			log.Warn("cannot wake the leader", zap.String("what", what), zap.Error(err))
		}
	}
}

func buildLocal(ctx context.Context, cfg config.Config, st *store.Store, log *zap.Logger) (platforms, error) {
	observe := wake(ctx, st, log, store.WakeObserve(local.Name))
	lp, err := local.New(local.Config{StateDir: cfg.LocalStateDir, Command: cfg.BotCommand, Logger: log.Named("local"),
		OnExit: func(string) { observe() }})
	if err != nil {
		return platforms{}, fmt.Errorf("LOCAL_STATE_DIR: %w", err)
	}
	return platforms{list: []controllers.PlatformConfig{{Platform: lp, Limit: cfg.LocalBotLimit}}}, nil
}

func buildCoolify(ctx context.Context, cfg config.Config, st *store.Store, log *zap.Logger, m *metrics.Metrics) (platforms, error) {
	c := cfg.Coolify
	client, err := coolify.NewClient(coolify.Config{BaseURL: c.APIURL, Token: c.Token, RatePerMinute: c.RateLimit,
		OnRequest: coolifyRequests(m)})
	if err != nil {
		return platforms{}, fmt.Errorf("COOLIFY_API_URL: %w", err)
	}
	base := coolify.CreateApp{ProjectUUID: c.ProjectUUID, ServerUUID: c.ServerUUID, EnvironmentName: c.EnvironmentName,
		DestinationUUID: c.DestinationUUID, PortsExposes: "3000"}
	if c.Mode == config.CoolifyEphemeral {
		p := &coolify.EphemeralPlatform{Client: client, Base: base, LimitsCPUs: c.LimitsCPUs, LimitsMemory: c.LimitsMemory,
			StartTimeout: c.StartTimeout, Clock: clock.Wall{},
			Image: func(mp string) (string, string, bool) {
				img, ok := cfg.BotImages.Repos[mp]
				return img, cfg.BotImages.Tag, ok
			}}
		return platforms{list: []controllers.PlatformConfig{{Platform: p, Limit: c.BotLimit}}}, nil
	}
	specs := make([]pool.Spec, 0, len(cfg.BotImages.Repos))
	hashes := map[string]string{}
	for mp, img := range cfg.BotImages.Repos {
		s := pool.Spec{MeetingPlatform: mp, AppSpec: pool.AppSpec{Image: img, Tag: cfg.BotImages.Tag, LimitsCPUs: c.LimitsCPUs, LimitsMemory: c.LimitsMemory}}
		specs = append(specs, s)
		hashes[mp] = s.Hash()
	}
	ctl := &pool.Pool{Apps: &coolify.SlotApps{Client: client, Base: base}, Store: st, Clock: clock.Wall{}, Logger: log.Named("pool"),
		Metrics: m,
		Config: pool.Config{Platform: coolify.PlatformName, Specs: specs, MinIdle: c.PoolMinIdle, MaxSlots: c.PoolMaxSlots, IdleTTL: c.PoolIdleTTL,
			LookAhead:           poolLookAhead(cfg, len(specs)),
			DemandUnreserved:    len(cfg.Platforms) > 0 && cfg.Platforms[0] == config.PlatformCoolify,
			MaxConcurrentStarts: c.MaxConcurrentDeploys, StartTimeout: c.StartTimeout, StopTimeout: c.PoolStopTimeout,
			DeleteTimeout: c.PoolDeleteTimeout, OrphanGrace: cfg.GCGrace, MaxErrors: c.PoolMaxErrors, ListInterval: c.PoolSyncInterval,
			// A slot container learns only who it is; it pulls its work.
			Env: func(appUUID, token string) map[string]string {
				return map[string]string{botproto.EnvPoolSlotUUID: appUUID, botproto.EnvPoolSlotToken: token,
					botproto.EnvCallbackURL: cfg.PublicURL}
			}}}
	pp := &pool.SlotPlatform{PlatformName: coolify.PlatformName, Store: st, MaxSlots: c.PoolMaxSlots, Clock: clock.Wall{},
		SpecHash: func(mp string) (string, bool) { h, ok := hashes[mp]; return h, ok },
		Notify:   wake(ctx, st, log, store.WakePool)}
	return platforms{list: []controllers.PlatformConfig{{Platform: pp, Limit: c.BotLimit}}, pool: ctl,
		poolPlatform: coolify.PlatformName}, nil
}

// poolLookAhead is how far ahead the pool starts hot slots for scheduled
// bots: POOL_LOOK_AHEAD, or by default twice what a cold start and then
// every slot's start through the deploy concurrency cap take (the pool's
// passes and the API's rate limit add to each round).
func poolLookAhead(cfg config.Config, specs int) time.Duration {
	if cfg.Coolify.PoolLookAhead > 0 {
		return cfg.Coolify.PoolLookAhead
	}
	rounds := (cfg.Coolify.PoolMaxSlots*specs + cfg.Coolify.MaxConcurrentDeploys - 1) / max(cfg.Coolify.MaxConcurrentDeploys, 1)
	return 2 * (cfg.LeadFloors.CoolifyCold + time.Duration(rounds)*cfg.LeadFloors.CoolifyWarm)
}

// coolifyRequests records the Coolify client's API calls, every attempt
// (retries included) with its status; PlatformRequest counts a 429 as
// throttled on its own.
func coolifyRequests(m *metrics.Metrics) func(op string, status int, d time.Duration) {
	return func(op string, status int, d time.Duration) {
		m.PlatformRequest(coolify.PlatformName, op, status, d, false)
	}
}

// limits are the platforms' names and limits, in priority order.
func (p platforms) limits() []api.PlatformLimit {
	out := make([]api.PlatformLimit, len(p.list))
	for i, pc := range p.list {
		out[i] = api.PlatformLimit{Name: pc.Platform.Name(), Limit: pc.Limit}
	}
	return out
}
