package controllers

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

// leaderLock is the advisory lock whose holder leads.
const leaderLock = "meeboter-leader"

// LeaderConfig configures an Elector.
type LeaderConfig struct {
	// Retry is how often a follower asks for the leadership (default 1 s,
	// with jitter): a dead leader is replaced within about this long.
	Retry time.Duration
}

// Locker takes advisory locks on this replica's session.
type Locker interface {
	TryLock(name string) (*store.Lock, bool, error)
}

// Elector holds Meeboter's leadership, an advisory lock on this replica's
// database session: it dies with the process (Postgres ends the session at
// once), so a follower leads within about a second of a leader's death, and
// two replicas never hold it at once. While it leads, it runs the leader's
// loops and routes wake-ups (Postgres NOTIFY on store.WakeChannel) to them.
// River elects its own leader for its maintenance; that one is not ours.
type Elector struct {
	Config LeaderConfig
	Locks  Locker
	// Listen delivers wake-ups until ctx ends or its connection fails,
	// store.WakeAll first, once listening (store.Listen).
	Listen  func(ctx context.Context, fn func(payload string)) error
	Loops   []*Loop
	Metrics *metrics.Metrics
	Logger  *zap.Logger

	leading atomic.Pointer[store.Lock] // the held leader lock, nil when following
}

// Leading reports whether this replica leads now: it holds the lock, and
// the lock's session is not known to be lost.
func (e *Elector) Leading() bool {
	l := e.leading.Load()
	if l == nil {
		return false
	}
	select {
	case <-l.Lost():
		return false
	default:
		return true
	}
}

// Start contends for the leadership, and leads when it gets it, until ctx
// ends.
func (e *Elector) Start(ctx context.Context) {
	retry := e.Config.Retry
	if retry <= 0 {
		retry = time.Second
	}
	for ctx.Err() == nil {
		lock, ok, err := e.Locks.TryLock(leaderLock)
		if err == nil && ok {
			e.lead(ctx, lock)
			continue
		}
		if err != nil {
			e.Logger.Debug("cannot ask for the leadership", zap.Error(err))
		}
		t := time.NewTimer(retry/2 + rand.N(retry/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// lead runs the loops until the leadership is lost or ctx ends, and waits
// for them to stop before it lets go.
func (e *Elector) lead(ctx context.Context, lock *store.Lock) {
	e.leading.Store(lock)
	e.Logger.Info("leading")
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wakes := map[string]*Loop{}
	for _, l := range e.Loops {
		if l.Wake != "" {
			wakes[l.Wake] = l
		}
		wg.Go(func() { l.Start(lctx, e.Metrics, e.Logger) })
	}
	wg.Go(func() { e.listen(lctx, wakes) })
	select {
	case <-ctx.Done():
	case <-lock.Lost():
		e.Logger.Warn("leadership lost with the database session")
	}
	e.leading.Store(nil)
	cancel()
	wg.Wait()
	lock.Release()
}

// listen routes wake-ups to the loops, reconnecting when the listening
// connection fails. The loops start with a pass, but a wake-up sent after
// that pass and before LISTEN took effect would be missed: Listen's
// store.WakeAll, once it listens, pokes them all.
func (e *Elector) listen(ctx context.Context, wakes map[string]*Loop) {
	for ctx.Err() == nil {
		err := e.Listen(ctx, func(payload string) {
			if payload == store.WakeAll {
				for _, l := range wakes {
					l.Poke()
				}
			} else if l, ok := wakes[payload]; ok {
				l.Poke()
			}
		})
		if ctx.Err() != nil {
			return
		}
		e.Logger.Warn("listening for wake-ups failed; reconnecting", zap.Error(err))
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
