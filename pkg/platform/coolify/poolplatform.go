package coolify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// PlatformName is the coolify platform's name in rows and metrics.
const PlatformName = "coolify"

// SlotStore is what the pool platform needs of the database.
type SlotStore interface {
	ClaimSlot(ctx context.Context, deployment, meetingPlatform, specHash string, maxSlots int, now time.Time) (store.PoolSlot, error)
	SlotOf(ctx context.Context, deployment string) (store.PoolSlot, bool, error)
	AssignedSlots(ctx context.Context) ([]store.PoolSlot, error)
	ReleaseSlot(ctx context.Context, deployment string, now time.Time) error
}

// PoolPlatform runs bot attempts on pool slots. Create claims a slot and
// Stop releases it, in the database only; the pool controller makes the
// Coolify calls (start, stop, observe) for every slot in bulk. List reads
// the slots' observed state, which the pool controller keeps fresh with one
// list call per pass.
type PoolPlatform struct {
	Store    SlotStore
	SpecHash func(meetingPlatform string) (string, bool)
	MaxSlots int
	// Notify asks the pool controller for a pass now (a claim or release).
	Notify func()
	Clock  func() time.Time
}

var _ platform.Platform = (*PoolPlatform)(nil)

// Name implements platform.Platform.
func (p *PoolPlatform) Name() string { return PlatformName }

// Create claims a slot of the bot's meeting platform and spec (or adopts the
// one the attempt holds). A full pool is platform.ErrCapacity: the bot waits.
func (p *PoolPlatform) Create(ctx context.Context, w platform.Workload) (string, error) {
	spec, ok := p.SpecHash(w.MeetingPlatform)
	if !ok {
		return "", platform.Permanent(errors.New("coolify: no slot image configured for meeting platform " + w.MeetingPlatform))
	}
	slot, err := p.Store.ClaimSlot(ctx, w.Name, w.MeetingPlatform, spec, p.MaxSlots, p.Clock())
	if errors.Is(err, store.ErrNoSlot) {
		return "", platform.ErrCapacity
	}
	if err != nil {
		return "", err
	}
	p.Notify()
	return slot.Name, nil
}

// Lookup implements platform.Platform.
func (p *PoolPlatform) Lookup(ctx context.Context, name string) (platform.Listed, bool, error) {
	slot, found, err := p.Store.SlotOf(ctx, name)
	if err != nil || !found || slot.State == store.SlotStopping {
		return platform.Listed{}, false, err
	}
	return listedSlot(slot), true, nil
}

// Stop releases the attempt's slot; the pool controller stops its container
// and returns it to IDLE once it is seen exited. The attempt holds nothing
// more (the slot, STOPPING, is the pool's to count), so it is gone.
func (p *PoolPlatform) Stop(ctx context.Context, name, _ string) (bool, error) {
	if err := p.Store.ReleaseSlot(ctx, name, p.Clock()); err != nil {
		return false, err
	}
	p.Notify()
	return true, nil
}

// List returns the workloads of the attempts that hold a slot. A slot
// being stopped no longer belongs to its attempt.
func (p *PoolPlatform) List(ctx context.Context) ([]platform.Listed, error) {
	slots, err := p.Store.AssignedSlots(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Listed, 0, len(slots))
	for _, s := range slots {
		if s.State != store.SlotStopping {
			out = append(out, listedSlot(s))
		}
	}
	return out, nil
}

// listedSlot maps a slot to the workload of its attempt.
func listedSlot(s store.PoolSlot) platform.Listed {
	l := platform.Listed{Name: *s.AssignedDeployment, ExternalID: s.Name, Observation: platform.Observation{Phase: platform.PhasePending}}
	if s.LastUsedAt != nil {
		l.CreatedAt = *s.LastUsedAt
	}
	state := ""
	if s.Observed != nil {
		state, _, _ = strings.Cut(*s.Observed, ":") // "running:unknown", "exited:unhealthy"
	}
	switch {
	case s.State == store.SlotError || s.State == store.SlotDeleting:
		l.Phase, l.Reason = platform.PhaseExited, "slot "+string(s.State)
	case s.State == store.SlotBusy && (state == "exited" || state == "degraded"):
		l.Phase, l.Reason = platform.PhaseExited, "container "+*s.Observed
	case s.State == store.SlotBusy:
		l.Phase = platform.PhaseRunning // seen running to become BUSY
	case s.State == store.SlotStarting && s.StartRequestedAt != nil:
		l.Phase = platform.PhaseStarting
	}
	return l
}
