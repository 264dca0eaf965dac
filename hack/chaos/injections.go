package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Destructive injections: each kills one bot's workload, which may end
// that bot FATAL or give it a new attempt. Their bots are left out of
// fatal_from_transient_faults.
const (
	injectECSVanish     = "ecs-vanish"
	injectCoolifyCrash  = "coolify-crash"
	injectCoolifyVanish = "coolify-vanish"
	injectLocalKill     = "local-kill"
)

var injectionKinds = []string{injectECSVanish, injectCoolifyCrash, injectCoolifyVanish, injectLocalKill}

// injectFaults aims one injection of each kind at an in-call bot, four
// times over the phase.
func (c *chaos) injectFaults(phase context.Context) {
	start := time.Now()
	for _, frac := range []float64{0.2, 0.4, 0.6, 0.75} {
		if !sleepCtx(phase, time.Until(start.Add(time.Duration(frac*float64(c.opts.duration))))) {
			return
		}
		for _, kind := range injectionKinds {
			if err := c.inject(phase, kind); err != nil {
				c.logf("injection %s: %v", kind, err)
			}
		}
	}
}

// inject finds an in-call bot on the kind's platform and kills its
// workload, marking the bot first so nothing it causes counts against the
// controller.
func (c *chaos) inject(ctx context.Context, kind string) error {
	target, kill, err := c.injectionTarget(ctx, kind)
	if err != nil {
		return err
	}
	now := time.Now()
	c.tracker.with(target, func(b *botState) {
		if b != nil {
			b.injected, b.injectedAt = kind, now
		}
	})
	if err := kill(); err != nil {
		return err
	}
	c.faults.injected(injectionRecord{Kind: kind, BotID: target, At: now})
	c.logf("injected %s into bot %s", kind, target)
	return nil
}

// injectionTarget picks the bot and returns how to kill its workload.
func (c *chaos) injectionTarget(ctx context.Context, kind string) (string, func() error, error) {
	switch kind {
	case injectLocalKill:
		return c.localTarget(ctx)
	case injectECSVanish:
		return c.ecsTarget(ctx)
	}
	action := "crash"
	if kind == injectCoolifyVanish {
		action = "vanish"
	}
	p, ok, err := c.inCallPlay(ctx, c.sys.coolify)
	if err != nil || !ok {
		return "", nil, orNone(err)
	}
	return p.BotID, func() error {
		_, err := c.sys.coolify.call(ctx, http.MethodPost, "/_sim/apps/"+p.Container+"/"+action, map[string]any{"exit_code": 137}, nil)
		return err
	}, nil
}

func orNone(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("no bot in a call to aim at")
}

// inCallPlay is a meeting a simulator's container plays whose bot the
// tracker last saw IN_CALL and that no injection hit yet.
func (c *chaos) inCallPlay(ctx context.Context, sim *simProc) (play, bool, error) {
	ps, err := sim.plays(ctx, false)
	if err != nil {
		return play{}, false, err
	}
	for _, p := range ps.Live {
		if c.injectable(p.BotID) {
			return p, true, nil
		}
	}
	return play{}, false, nil
}

func (c *chaos) injectable(bot string) bool {
	ok := false
	c.tracker.with(bot, func(b *botState) {
		ok = b != nil && b.view.Status == "IN_CALL" && b.injected == "" && b.stopAt.IsZero()
	})
	return ok
}

// ecsTarget vanishes the task of an in-call bot.
func (c *chaos) ecsTarget(ctx context.Context) (string, func() error, error) {
	p, ok, err := c.inCallPlay(ctx, c.sys.ecs)
	if err != nil || !ok {
		return "", nil, orNone(err)
	}
	var tasks []struct {
		ID         string            `json:"id"`
		Env        map[string]string `json:"env"`
		LastStatus string            `json:"last_status"`
	}
	if err := c.sys.ecs.get(ctx, "/_sim/tasks", &tasks); err != nil {
		return "", nil, err
	}
	for _, t := range tasks {
		if t.Env["MEEBOTER_WORKLOAD"] == p.Container && t.LastStatus == "RUNNING" {
			return p.BotID, func() error {
				_, err := c.sys.ecs.call(ctx, http.MethodPost, "/_sim/tasks/"+t.ID+"/vanish", nil, nil)
				return err
			}, nil
		}
	}
	return "", nil, fmt.Errorf("no running task for %s", p.Container)
}

// localTarget SIGKILLs the process group of an in-call local bot.
func (c *chaos) localTarget(ctx context.Context) (string, func() error, error) {
	listed, err := c.sys.localView.List(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, l := range listed {
		bot, _, ok := botOfWorkload(l.Name)
		pid, perr := strconv.Atoi(l.ExternalID)
		if !ok || perr != nil || l.Phase != platform.PhaseRunning || !c.injectable(bot) {
			continue
		}
		return bot, func() error { return syscall.Kill(-pid, syscall.SIGKILL) }, nil
	}
	return "", nil, orNone(nil)
}
