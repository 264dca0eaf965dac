package pool

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// SlotStore is what the slot platform needs of the database.
type SlotStore interface {
	ClaimSlot(ctx context.Context, deployment, meetingPlatform, specHash string, maxSlots int, now time.Time) (store.PoolSlot, error)
	SlotOf(ctx context.Context, deployment string) (store.PoolSlot, bool, error)
	AssignedSlots(ctx context.Context) ([]store.PoolSlot, error)
	ReleaseSlot(ctx context.Context, deployment string, now time.Time) error
}

// SlotPlatform runs bot attempts on pool slots. Create claims a slot and
// Stop releases it, in the database only; the pool controller makes the
// driver's calls (start, stop, observe) for every slot in bulk. List reads
// the slots' observed state, which the pool controller keeps fresh with one
// list call per period.
type SlotPlatform struct {
	// PlatformName is the platform's name in rows and metrics (the pool's
	// driver's: "coolify").
	PlatformName string
	Store        SlotStore
	SpecHash     func(meetingPlatform string) (string, bool)
	MaxSlots     int
	// Notify asks the pool controller for a pass now (a claim or release).
	Notify func()
	Clock  clock.Clock
}

var _ platform.Platform = (*SlotPlatform)(nil)

// Name implements platform.Platform.
func (p *SlotPlatform) Name() string { return p.PlatformName }

// Create claims a slot of the bot's meeting platform and spec (or adopts the
// one the attempt holds). A full pool is platform.ErrCapacity: the bot waits.
func (p *SlotPlatform) Create(ctx context.Context, w platform.Workload) (string, error) {
	spec, ok := p.SpecHash(w.MeetingPlatform)
	if !ok {
		return "", platform.Permanent(errors.New(p.PlatformName + ": no slot image configured for meeting platform " + w.MeetingPlatform))
	}
	slot, err := p.Store.ClaimSlot(ctx, w.Name, w.MeetingPlatform, spec, p.MaxSlots, p.Clock.Now())
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
func (p *SlotPlatform) Lookup(ctx context.Context, name string) (platform.Listed, bool, error) {
	slot, found, err := p.Store.SlotOf(ctx, name)
	if err != nil || !found || slot.State == store.SlotStopping {
		return platform.Listed{}, false, err
	}
	return listedSlot(slot), true, nil
}

// Stop releases the attempt's slot; the pool controller stops its container
// and returns it to IDLE once it is seen exited. The attempt holds nothing
// more (the slot, STOPPING, is the pool's to count), so it is gone.
func (p *SlotPlatform) Stop(ctx context.Context, name, _ string) (bool, error) {
	if err := p.Store.ReleaseSlot(ctx, name, p.Clock.Now()); err != nil {
		return false, err
	}
	p.Notify()
	return true, nil
}

// List returns the workloads of the attempts that hold a slot. A slot
// being stopped no longer belongs to its attempt.
func (p *SlotPlatform) List(ctx context.Context) ([]platform.Listed, error) {
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
