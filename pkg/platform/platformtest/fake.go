// Package platformtest provides Fake, a programmable in-memory platform for
// controller tests: it stands for Coolify, ECS or local processes, whose
// real behaviour is tested against those systems (or their simulators).
package platformtest

import (
	"context"
	"sync"

	"github.com/meeboter/meeboter/pkg/platform"
)

// StopCall is one recorded Stop.
type StopCall struct{ Name, ExternalID string }

// Fake lists what the test set, fails when told to, and records creates and
// stops. A created workload is not listed: tests set what List returns.
type Fake struct {
	// PlatformName is Name(); default "fake".
	PlatformName string

	mu        sync.Mutex
	listed    []platform.Listed
	listErr   error
	stopErr   error
	createErr error
	// stopLingers: Stop reports the workload still stopping.
	stopLingers bool
	stops       []StopCall
	creates     []platform.Workload
	lists       int
}

var _ platform.Platform = (*Fake)(nil)

// Name implements platform.Platform.
func (p *Fake) Name() string {
	if p.PlatformName == "" {
		return "fake"
	}
	return p.PlatformName
}

// Create records w and returns "ext-<name>", or fails as set by FailCreate.
func (p *Fake) Create(_ context.Context, w platform.Workload) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.createErr != nil {
		return "", p.createErr
	}
	p.creates = append(p.creates, w)
	return "ext-" + w.Name, nil
}

// Lookup finds nothing: created workloads are not listed.
func (p *Fake) Lookup(context.Context, string) (platform.Listed, bool, error) {
	return platform.Listed{}, false, nil
}

// FailCreate makes Create fail with err (nil: succeed again).
func (p *Fake) FailCreate(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.createErr = err
}

// Created returns the recorded creates.
func (p *Fake) Created() []platform.Workload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]platform.Workload(nil), p.creates...)
}

// Stop records the call, or fails as set by FailStop. The workload is gone
// at once unless StopLingers was set.
func (p *Fake) Stop(_ context.Context, name, externalID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopErr != nil {
		return false, p.stopErr
	}
	p.stops = append(p.stops, StopCall{name, externalID})
	return !p.stopLingers, nil
}

// StopLingers makes Stop report a workload still stopping (as an ECS task
// within its stop timeout), until List says otherwise.
func (p *Fake) StopLingers(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLingers = on
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
