package pool

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
)

// Kinds of drift correction, the kind label of
// meeboter_drift_corrections_total.
const (
	DriftSpec          = "spec"           // an idle slot converged to the current spec
	DriftStopReissued  = "stop_reissued"  // a stop re-issued: the container was not seen exited in time
	DriftVanished      = "vanished"       // a slot whose application vanished, replaced
	DriftErrorReplaced = "error_replaced" // an ERROR slot that kept failing, replaced
)

// App is a slot application as the driver lists it.
type App = platform.SlotApp

// AppSpec is what a slot application should be.
type AppSpec = platform.SlotSpec

// Apps is what the pool needs of Coolify. List returns every slot
// application (ours by tag) or an error, never a partial list. Start wraps
// a failure that may still have started the application (a 5xx, a lost
// answer) in ErrStartUnknown; StartedSince reports whether a deployment of
// the application is queued or in progress, or was created at or after
// since (Coolify's clock).
type Apps interface {
	List(ctx context.Context) ([]App, error)
	Create(ctx context.Context, spec AppSpec) (uuid string, err error)
	SetEnv(ctx context.Context, uuid string, env map[string]string) error
	Update(ctx context.Context, uuid string, spec AppSpec) error
	Delete(ctx context.Context, uuid string) error
	Start(ctx context.Context, uuid string) error
	StartedSince(ctx context.Context, uuid string, since time.Time) (bool, error)
	Stop(ctx context.Context, uuid string) error
}

// ErrStartUnknown marks a start that may have happened though it failed.
var ErrStartUnknown = platform.ErrSlotStartUnknown

// clockSkew is how far Coolify's clock may be from ours when a start's
// deployment is matched to its request. Small: a slot's previous deployment
// (a bot ago) must not pass for the new one.
const clockSkew = time.Second

// Store is what the pool needs of the database.
type Store interface {
	Slots(ctx context.Context) ([]store.PoolSlot, error)
	ReserveIdleSlots(ctx context.Context, meetingPlatform, specHash string, minIdle, maxSlots int, now time.Time) (int, error)
	UpdateSlot(ctx context.Context, u store.SlotUpdate, now time.Time) (bool, error)
	RecordSlotObservation(ctx context.Context, id int64, observed string, now time.Time) error
	DeleteSlot(ctx context.Context, id int64) error
	StartsInFlight(ctx context.Context) (int, error)
	PoolDemand(ctx context.Context, platform string, unreserved bool, until time.Time) (map[string]int, error)
}

// Spec is the desired slot spec of one meeting platform.
type Spec struct {
	MeetingPlatform string
	AppSpec
}

// Hash identifies the spec: slots of another hash are drifted.
func (s Spec) Hash() string { return SpecHash(s.AppSpec) }

// Config configures the pool.
type Config struct {
	// Platform is the pool's platform name, as its slot platform gives it
	// (rows and metrics).
	Platform            string
	Specs               []Spec // one per meeting platform
	MinIdle             int
	MaxSlots            int // per meeting platform
	IdleTTL             time.Duration
	MaxConcurrentStarts int
	StartTimeout        time.Duration // a start not seen running by then is an error
	StopTimeout         time.Duration // a stop not seen exited by then is re-issued
	// StopRecheck: a container seen running after its stop was asked (a
	// start still queued when the slot was released) is stopped again this
	// long after the last stop (default 10 s).
	StopRecheck   time.Duration
	DeleteTimeout time.Duration // a delete still listed by then is re-issued
	OrphanGrace   time.Duration // unknown applications younger than this are left alone
	MaxErrors     int           // errors before an ERROR slot is replaced
	// Env is the environment of a slot container: its identity only.
	Env func(appUUID, slotToken string) map[string]string
	// LookAhead: bots due within it (scheduled, or admitted and waiting for
	// a slot) get hot slots ahead of need, on top of MinIdle — created,
	// started and left running idle, asking for work, so a claim is served
	// at the container's next ask instead of by a start through the
	// concurrency cap. 0: none.
	LookAhead time.Duration
	// DemandUnreserved counts scheduled bots reserved nowhere in the demand
	// too (the pool platform is the first they may go to).
	DemandUnreserved bool
	// ListInterval: a pass within it of the last list is a quick pass, which
	// reads nothing from Coolify (see RunOnce). 0: every pass lists.
	ListInterval time.Duration
}

// Pool is the pool controller.
type Pool struct {
	Config Config
	Apps   Apps
	Store  Store
	Clock  clock.Clock
	Logger *zap.Logger
	// Metrics counts drift corrections and orphans deleted; nil records
	// nothing.
	Metrics *metrics.Metrics

	// listedAt is when the last full pass began its list. RunOnce and
	// NextPass are called from one loop, never concurrently.
	listedAt time.Time
}

// pass is one run's view: the listed applications and the specs.
type pass struct {
	now      time.Time
	byUUID   map[string]App
	byName   map[string]App
	specs    map[string]Spec
	inFlight int
	demand   map[string]int
	hot      map[string]*hotBudget
}

// hotBudget is one meeting platform's hot slots to keep running and to
// start in this pass.
type hotBudget struct{ keep, start int }

// planHot splits each meeting platform's demand between the idle slots
// already running (kept) and idle slots to start, less the hot starts in
// flight.
func (p *Pool) planHot(ps *pass, slots []store.PoolSlot) map[string]*hotBudget {
	running, starting := map[string]int{}, map[string]int{}
	for _, slot := range slots {
		switch {
		case slot.State == store.SlotIdle:
			if app, ok := p.appOf(ps, slot); ok && app.State() == "running" {
				running[slot.MeetingPlatform]++
			}
		case slot.State == store.SlotStarting && slot.AssignedDeployment == nil:
			starting[slot.MeetingPlatform]++
		}
	}
	hot := map[string]*hotBudget{}
	for _, spec := range p.Config.Specs {
		mp := spec.MeetingPlatform
		want := max(ps.demand[mp]-starting[mp], 0)
		keep := min(running[mp], want)
		hot[mp] = &hotBudget{keep: keep, start: want - keep}
	}
	return hot
}

// RunOnce makes one pass over every slot: a full pass, or a quick one
// when the last list is younger than ListInterval. A pass woken by a claim,
// a release or a container's first ask between two lists needs nothing
// Coolify could tell: what it acts on is in the database. Coolify's rate
// limit is per user, so a list per wake-up would cost more calls than the
// bots themselves (issue 13: 1.68 lists per bot on a warm pool).
func (p *Pool) RunOnce(ctx context.Context) (int, error) {
	if p.Config.ListInterval > 0 && p.Clock.Now().Sub(p.listedAt) < p.Config.ListInterval {
		return p.quickPass(ctx)
	}
	return p.fullPass(ctx)
}

// NextPass is how soon the next list is due.
func (p *Pool) NextPass() time.Duration {
	if p.Config.ListInterval == 0 {
		return time.Hour // every pass lists: the loop's own period rules
	}
	return p.Config.ListInterval - p.Clock.Now().Sub(p.listedAt)
}

// fullPass lists every slot application and steps every slot from it.
func (p *Pool) fullPass(ctx context.Context) (int, error) {
	// The time before the list: an observation recorded from it never
	// overwrites a newer one (a container's ask meanwhile).
	now := p.Clock.Now()
	apps, err := p.Apps.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("pool: list applications: %w", err) // absence is not evidence
	}
	p.listedAt = now
	demand := map[string]int{}
	if p.Config.LookAhead > 0 {
		if demand, err = p.Store.PoolDemand(ctx, p.Config.Platform, p.Config.DemandUnreserved, now.Add(p.Config.LookAhead)); err != nil {
			return 0, err
		}
	}
	for _, spec := range p.Config.Specs {
		want := p.Config.MinIdle + demand[spec.MeetingPlatform]
		if _, err := p.Store.ReserveIdleSlots(ctx, spec.MeetingPlatform, spec.Hash(), want, p.Config.MaxSlots, now); err != nil {
			return 0, err
		}
	}
	slots, ps, err := p.load(ctx, now)
	if err != nil {
		return 0, err
	}
	ps.demand = demand
	for _, a := range apps {
		ps.byUUID[a.UUID], ps.byName[a.Name] = a, a
	}
	ps.hot = p.planHot(ps, slots)
	idle := idleCounts(slots)
	acted := 0
	for _, slot := range passOrder(slots) {
		app, listed := p.appOf(ps, slot)
		// Only a changed status is written: a steady pool costs no write
		// (and no round trip) per slot per pass.
		if listed && (slot.Observed == nil || *slot.Observed != app.Status) {
			if err := p.Store.RecordSlotObservation(ctx, slot.ID, app.Status, now); err != nil {
				return acted, err
			}
		}
		acted += p.stepCounted(ctx, ps, slot, app, listed, idle)
	}
	n, err := p.collectOrphans(ctx, ps, slots, apps)
	return acted + n, err
}

// quickPass takes the steps the database alone calls for: start a claimed
// slot, stop a released one, and record a start its container proved by
// asking for work (an observation newer than the start). The rest, and
// any absence, waits for the next list.
func (p *Pool) quickPass(ctx context.Context) (int, error) {
	slots, ps, err := p.load(ctx, p.Clock.Now())
	if err != nil {
		return 0, err
	}
	acted := 0
	for _, slot := range passOrder(slots) {
		if slot.AppUUID == nil {
			continue
		}
		app := App{UUID: *slot.AppUUID, Name: slot.Name}
		switch {
		case slot.State == store.SlotStarting && slot.StartRequestedAt == nil,
			slot.State == store.SlotStopping && slot.StopRequestedAt == nil:
			acted += p.stepCounted(ctx, ps, slot, app, true, nil)
		case slot.State == store.SlotStarting && seenRunningSince(slot, *slot.StartRequestedAt):
			acted += p.stepCounted(ctx, ps, slot, App{UUID: app.UUID, Name: app.Name, Status: *slot.Observed}, true, nil)
		}
	}
	return acted, nil
}

// seenRunningSince reports whether the slot's container was last seen
// running at or after t.
func seenRunningSince(slot store.PoolSlot, t time.Time) bool {
	return slot.Observed != nil && slot.ObservedAt != nil && !slot.ObservedAt.Before(t) &&
		strings.HasPrefix(*slot.Observed, "running")
}

// load reads the slots and the starts in flight for a pass at now.
func (p *Pool) load(ctx context.Context, now time.Time) ([]store.PoolSlot, *pass, error) {
	slots, err := p.Store.Slots(ctx)
	if err != nil {
		return nil, nil, err
	}
	inFlight, err := p.Store.StartsInFlight(ctx)
	if err != nil {
		return nil, nil, err
	}
	ps := &pass{now: now, byUUID: map[string]App{}, byName: map[string]App{}, specs: map[string]Spec{}, inFlight: inFlight}
	for _, s := range p.Config.Specs {
		ps.specs[s.MeetingPlatform] = s
	}
	return slots, ps, nil
}

// stepCounted steps one slot and returns 1 when it changed anything; a
// failed step is logged and recorded on the slot, not the pass's failure.
func (p *Pool) stepCounted(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool, idle map[string]int) int {
	changed, err := p.step(ctx, ps, slot, app, listed, idle)
	if err != nil {
		p.Logger.Warn("pool: slot step failed", zap.String("slot", slot.Name), zap.String("state", string(slot.State)), zap.Error(err))
		p.recordError(ctx, slot, err)
		return 0
	}
	if changed {
		return 1
	}
	return 0
}

func (p *Pool) appOf(ps *pass, slot store.PoolSlot) (App, bool) {
	if slot.AppUUID != nil {
		a, ok := ps.byUUID[*slot.AppUUID]
		return a, ok
	}
	a, ok := ps.byName[slot.Name] // created before a crash could record its uuid
	return a, ok
}

// passOrder is the order a pass steps through the slots: starts in flight
// first, so those that finished free their places under the concurrency
// cap for this pass; then claimed slots waiting for a place, before hot
// starts; then by number across meeting platforms, so hot starts are
// shared between the meeting platforms rather than given to the first.
func passOrder(slots []store.PoolSlot) []store.PoolSlot {
	ordered := slices.Clone(slots)
	slices.SortStableFunc(ordered, func(a, b store.PoolSlot) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Number, b.Number), cmp.Compare(a.MeetingPlatform, b.MeetingPlatform))
	})
	return ordered
}

func rank(s store.PoolSlot) int {
	switch {
	case s.State == store.SlotStarting && s.StartRequestedAt != nil:
		return 0
	case s.State == store.SlotStarting:
		return 1
	}
	return 2
}

func idleCounts(slots []store.PoolSlot) map[string]int {
	idle := map[string]int{}
	for _, s := range slots {
		if s.State == store.SlotIdle {
			idle[s.MeetingPlatform]++
		}
	}
	return idle
}

// recordError counts a failed step; a slot that keeps failing goes to ERROR.
func (p *Pool) recordError(ctx context.Context, slot store.PoolSlot, cause error) {
	msg := cause.Error()
	to := slot.State
	if slot.ErrorCount+1 >= p.Config.MaxErrors && slot.State != store.SlotDeleting {
		to = store.SlotError
	}
	if _, err := p.Store.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: slot.State, Assigned: slot.AssignedDeployment,
		To: to, Error: &msg}, p.Clock.Now()); err != nil {
		p.Logger.Warn("pool: cannot record slot error", zap.String("slot", slot.Name), zap.Error(err))
	}
}

func newSlotToken() string { return "mbs_" + rand.Text() }
