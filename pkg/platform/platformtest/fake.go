// Package platformtest provides Fake, a programmable in-memory platform for
// controller tests: it stands for Coolify, ECS or local processes, whose
// real behaviour is tested against those systems (or their simulators).
package platformtest

import (
	"context"
	"errors"
	"sync"

	"github.com/meeboter/meeboter/pkg/platform"
)

// StopCall is one recorded Stop.
type StopCall struct{ Name, ExternalID string }

// Fake lists what the test set, fails when told to, and records stops.
// Create and Lookup are not supported: tests of the create path run against
// a real platform.
type Fake struct {
	mu      sync.Mutex
	listed  []platform.Listed
	listErr error
	stopErr error
	stops   []StopCall
	lists   int
}

var _ platform.Platform = (*Fake)(nil)

// Name implements platform.Platform.
func (p *Fake) Name() string { return "fake" }

// Create implements platform.Platform; it always fails.
func (p *Fake) Create(context.Context, platform.Workload) (string, error) {
	return "", errors.New("platformtest: create not supported")
}

// Lookup implements platform.Platform; it always fails.
func (p *Fake) Lookup(context.Context, string) (platform.Listed, bool, error) {
	return platform.Listed{}, false, errors.New("platformtest: lookup not supported")
}

// Stop records the call, or fails as set by FailStop.
func (p *Fake) Stop(_ context.Context, name, externalID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopErr != nil {
		return p.stopErr
	}
	p.stops = append(p.stops, StopCall{name, externalID})
	return nil
}

// List returns what Set gave, or the error FailList gave.
func (p *Fake) List(context.Context) ([]platform.Listed, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lists++
	if p.listErr != nil {
		return nil, p.listErr
	}
	return append([]platform.Listed(nil), p.listed...), nil
}

// Set makes List succeed with listed.
func (p *Fake) Set(listed ...platform.Listed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listed, p.listErr = listed, nil
}

// FailList makes List fail with err.
func (p *Fake) FailList(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listErr = err
}

// FailStop makes Stop fail with err (nil: succeed again).
func (p *Fake) FailStop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopErr = err
}

// Stopped returns the recorded stops.
func (p *Fake) Stopped() []StopCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]StopCall(nil), p.stops...)
}

// Lists returns how many times List was called.
func (p *Fake) Lists() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lists
}
