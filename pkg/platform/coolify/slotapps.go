package coolify

import (
	"context"
	"fmt"
	"time"

	"github.com/meeboter/meeboter/pkg/platform"
)

// PlatformName is the coolify platform's name in rows and metrics, in pool
// and ephemeral mode alike.
const PlatformName = "coolify"

// PoolTag marks every slot application, so one filtered list call reads them
// all and orphans are recognised as ours.
const PoolTag = "meeboter-pool"

// SlotApps gives the pool controller the Coolify calls it makes, on the
// client (and so through its shared token bucket).
type SlotApps struct {
	Client *Client
	// Base holds the project, server, environment and destination every slot
	// application is created in.
	Base CreateApp
}

// List implements the pool controller's Apps: one call for every slot application.
func (a *SlotApps) List(ctx context.Context) ([]platform.SlotApp, error) {
	apps, err := a.Client.ListApplications(ctx, PoolTag)
	if err != nil {
		return nil, err
	}
	out := make([]platform.SlotApp, len(apps))
	for i, app := range apps {
		out[i] = platform.SlotApp{UUID: app.UUID, Name: app.Name, Status: app.Status, CreatedAt: app.CreatedAt}
	}
	return out, nil
}

// Create implements the pool controller's Apps. Slot containers never exit on their own, so
// Coolify's restart limit is left at its default as a last safety net.
func (a *SlotApps) Create(ctx context.Context, spec platform.SlotSpec) (string, error) {
	req := a.Base
	req.Name, req.Description = spec.Name, spec.Description
	req.Image, req.Tag = spec.Image, spec.Tag
	req.LimitsCPUs, req.LimitsMemory = spec.LimitsCPUs, spec.LimitsMemory
	req.Tags = []string{PoolTag}
	return a.Client.CreateApplication(ctx, req)
}

// SetEnv implements the pool controller's Apps.
func (a *SlotApps) SetEnv(ctx context.Context, uuid string, env map[string]string) error {
	return a.Client.SetEnvs(ctx, uuid, env)
}

// Update implements the pool controller's Apps: the new spec applies at the slot's next start.
func (a *SlotApps) Update(ctx context.Context, uuid string, spec platform.SlotSpec) error {
	return a.Client.UpdateApplication(ctx, uuid, AppPatch{Image: &spec.Image, Tag: &spec.Tag,
		LimitsCPUs: &spec.LimitsCPUs, LimitsMemory: &spec.LimitsMemory})
}

// Delete implements the pool controller's Apps; an application already gone is deleted.
func (a *SlotApps) Delete(ctx context.Context, uuid string) error {
	if err := a.Client.DeleteApplication(ctx, uuid); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// Start implements the pool controller's Apps. Coolify's "already queued" answer is success;
// a 5xx or a lost answer may have started the application.
func (a *SlotApps) Start(ctx context.Context, uuid string) error {
	_, err := a.Client.StartApplication(ctx, uuid)
	if Ambiguous(err) {
		return fmt.Errorf("%w: %w", platform.ErrSlotStartUnknown, err)
	}
	return err
}

// StartedSince implements the pool controller's Apps from the application's newest
// deployment.
func (a *SlotApps) StartedSince(ctx context.Context, uuid string, since time.Time) (bool, error) {
	return startedSince(ctx, a.Client, uuid, since)
}

func startedSince(ctx context.Context, c *Client, uuid string, since time.Time) (bool, error) {
	deps, err := c.Deployments(ctx, uuid, 1)
	if err != nil || len(deps) == 0 {
		return false, err
	}
	d := deps[0]
	return !d.Done() || (!d.CreatedAt.Before(since) && d.Status == DeploymentFinished), nil
}

// Stop implements the pool controller's Apps.
func (a *SlotApps) Stop(ctx context.Context, uuid string) error {
	return a.Client.StopApplication(ctx, uuid)
}
