package coolify

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
)

// EphemeralTag marks the per-attempt applications of COOLIFY_MODE=ephemeral.
const EphemeralTag = "meeboter-ephemeral"

// EphemeralPlatform runs each bot attempt as its own Coolify application,
// meeboter-bot-<id>-<attempt>, deleted when the attempt is stopped (seed:
// coolify-migration-design). Names are deterministic, so an application
// created just before a crash is adopted by name.
type EphemeralPlatform struct {
	Client *Client
	Base   CreateApp
	// Image returns the image and tag of a meeting platform's bot.
	Image        func(meetingPlatform string) (image, tag string, ok bool)
	LimitsCPUs   string
	LimitsMemory string
	// StartTimeout: an application not yet seen running within it counts as
	// pending, after it as exited (Coolify shows a fresh one as exited).
	StartTimeout time.Duration
	Clock        clock.Clock
}

var _ platform.Platform = (*EphemeralPlatform)(nil)

// Name implements platform.Platform.
func (p *EphemeralPlatform) Name() string { return PlatformName }

// appName maps the attempt's deployment name (meeboter-<id>-<attempt>) to
// its application name.
func appName(deployment string) string {
	return "meeboter-bot-" + strings.TrimPrefix(deployment, "meeboter-")
}

func deploymentOf(app string) (string, bool) {
	rest, ok := strings.CutPrefix(app, "meeboter-bot-")
	return "meeboter-" + rest, ok
}

// Create creates, configures and starts the attempt's application, or
// adopts the one of that name an earlier try created (Coolify does not make
// names unique: a try whose answer was lost must not make a second one) and
// finishes what that try may not have done. The environment is the same on
// every try of an attempt, so setting it again changes nothing.
func (p *EphemeralPlatform) Create(ctx context.Context, w platform.Workload) (string, error) {
	image, tag, ok := p.Image(w.MeetingPlatform)
	if !ok {
		return "", platform.Permanent(errors.New("coolify: no image for meeting platform " + w.MeetingPlatform))
	}
	l, found, err := p.Lookup(ctx, w.Name)
	if err != nil {
		return "", err
	}
	uuid := l.ExternalID
	if !found {
		req := p.Base
		req.Name, req.Description = appName(w.Name), "Meeboter bot "+w.BotID+" attempt "+strconv.Itoa(w.Attempt)
		req.Image, req.Tag, req.LimitsCPUs, req.LimitsMemory = image, tag, p.LimitsCPUs, p.LimitsMemory
		req.Tags = []string{EphemeralTag}
		if uuid, err = p.Client.CreateApplication(ctx, req); err != nil {
			return "", err
		}
	}
	if found {
		// Started already (the answer lost)? Starting a running container
		// again redeploys it, a restart that ends its bot's meeting. The
		// application is this attempt's alone: any deployment of it is ours.
		started, err := startedSince(ctx, p.Client, uuid, time.Time{})
		if err != nil || started || l.Phase == platform.PhaseRunning {
			return uuid, err
		}
	}
	if err := p.Client.SetEnvs(ctx, uuid, w.Env); err != nil {
		return uuid, err
	}
	_, err = p.Client.StartApplication(ctx, uuid)
	return uuid, err
}

// Lookup finds the attempt's application by name.
func (p *EphemeralPlatform) Lookup(ctx context.Context, name string) (platform.Listed, bool, error) {
	listed, err := p.List(ctx)
	if err != nil {
		return platform.Listed{}, false, err
	}
	for _, l := range listed {
		if l.Name == name {
			return l, true, nil
		}
	}
	return platform.Listed{}, false, nil
}

// Stop deletes the attempt's application (Coolify stops its container
// first). The delete runs in the background on Coolify's side: the
// application is gone once no longer listed.
func (p *EphemeralPlatform) Stop(ctx context.Context, name, externalID string) (bool, error) {
	if externalID == "" {
		l, found, err := p.Lookup(ctx, name)
		if err != nil || !found {
			return err == nil, err
		}
		externalID = l.ExternalID
	}
	err := p.Client.DeleteApplication(ctx, externalID)
	if IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// List returns every per-attempt application with one call.
func (p *EphemeralPlatform) List(ctx context.Context) ([]platform.Listed, error) {
	apps, err := p.Client.ListApplications(ctx, EphemeralTag)
	if err != nil {
		return nil, err
	}
	now := p.Clock.Now()
	out := make([]platform.Listed, 0, len(apps))
	for _, a := range apps {
		name, ok := deploymentOf(a.Name)
		if !ok {
			continue
		}
		l := platform.Listed{Name: name, ExternalID: a.UUID, CreatedAt: a.CreatedAt,
			Observation: platform.Observation{Phase: platform.PhasePending, Reason: a.Status}}
		state, _ := ParseStatus(a.Status)
		switch {
		case state == "running":
			l.Phase = platform.PhaseRunning
		case state == "degraded" || (state == "exited" && now.Sub(a.CreatedAt) > p.StartTimeout):
			l.Phase = platform.PhaseExited
		}
		out = append(out, l)
	}
	return out, nil
}
