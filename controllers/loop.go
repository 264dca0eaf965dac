package controllers

import (
	"context"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/metrics"
)

// maxLoopBackoff caps how long a failing leader controller waits between
// passes.
const maxLoopBackoff = time.Minute

// minLoopDelay is the least a loop rests between good passes.
const minLoopDelay = 100 * time.Millisecond

// Loop is one leader-only controller: a pass now, then one every Every, and
// one as soon as it is woken. A failing pass is counted and logged, and the
// next waits longer (doubling up to a minute, wake-ups ignored meanwhile):
// periodic work backs off, it never dies, and it never pages anyone through
// a discarded job.
type Loop struct {
	// Controller labels the loop's passes in metrics and logs.
	Controller string
	// Wake is the wake-up payload that asks for a pass now ("" for none).
	Wake  string
	Every time.Duration
	Run   func(ctx context.Context) error
	// Next, when set, is how soon the next pass is due after a good one,
	// when sooner than Every.
	Next func() time.Duration

	wake chan struct{}
}

// NewLoop returns a loop running run every every.
func NewLoop(controller, wake string, every time.Duration, run func(context.Context) error) *Loop {
	return &Loop{Controller: controller, Wake: wake, Every: every, Run: run, wake: make(chan struct{}, 1)}
}

// Poke asks for a pass as soon as possible; pokes during a pass coalesce
// into one more.
func (l *Loop) Poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Start runs passes until ctx ends.
func (l *Loop) Start(ctx context.Context, m *metrics.Metrics, log *zap.Logger) {
	failures := 0
	for ctx.Err() == nil {
		start := time.Now()
		err := l.Run(ctx)
		if ctx.Err() != nil {
			return // leadership ended mid-pass: not a failure of the pass
		}
		m.ObserveReconcile(l.Controller, start, err)
		delay := l.Every
		if err != nil {
			failures++
			delay = min(l.Every<<min(failures, 10), maxLoopBackoff)
			delay = delay/2 + rand.N(delay/2+1)
			log.Warn("pass failed; backing off", zap.String("controller", l.Controller), zap.Int("failures", failures),
				zap.Duration("next_in", delay), zap.Error(err))
		} else {
			failures = 0
			if l.Next != nil {
				delay = max(min(delay, l.Next()), minLoopDelay)
			}
		}
		if !l.sleep(ctx, delay, failures == 0) {
			return
		}
	}
}

// sleep waits delay, or less when woken and wakeable; false when ctx ended.
func (l *Loop) sleep(ctx context.Context, delay time.Duration, wakeable bool) bool {
	t := time.NewTimer(delay)
	defer t.Stop()
	wake := l.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
