package leadtime

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Start kinds: an attempt placed on an idle, already pulled Coolify slot
// is warm; any other start (a new slot, an ECS task, a process) is cold.
const (
	Warm = "warm"
	Cold = "cold"
)

// Estimation parameters: a high percentile of the most recent samples
// (from a minimum number of them) or the floor, whichever is longer, with a
// safety margin on top. The margin absorbs what one deployment's history
// cannot show: a wave larger than the last one queueing at the platform's
// rate limits, a controller restart just before admission.
const (
	Percentile = 0.95
	Samples    = 50
	MinSamples = 5
	// Factor and Margin are the safety margin: lead = base × Factor + Margin.
	Factor = 1.5
	Margin = 2 * time.Second
)

// Key names one estimate: a platform and a start kind.
type Key struct{ Platform, Start string }

// Floors are the configured minimum lead times.
type Floors map[Key]time.Duration

// Lead is one estimate and what it is based on.
type Lead struct {
	Platform string `json:"platform"`
	Start    string `json:"start"`
	// Seconds is the lead time used.
	Seconds float64 `json:"seconds"`
	// Samples is how many recent create-to-ready durations it is based on
	// (0: none yet, the floor is used).
	Samples int `json:"samples"`
	// P95Seconds is their 95th percentile (null without enough samples).
	P95Seconds *float64 `json:"p95_seconds"`
	// FloorSeconds is the configured minimum.
	FloorSeconds float64 `json:"floor_seconds"`
	// Basis says which base won: "floor" or "learned" (the p95).
	Basis string `json:"basis"`
}

// Estimate is the lead time from samples (create-to-ready durations, most
// recent first) and floor.
func Estimate(key Key, samples []time.Duration, floor time.Duration) Lead {
	l := Lead{Platform: key.Platform, Start: key.Start, Samples: len(samples), FloorSeconds: floor.Seconds(), Basis: "floor"}
	base := floor
	if len(samples) >= MinSamples {
		sorted := slices.Clone(samples)
		slices.Sort(sorted)
		p := sorted[int(math.Ceil(Percentile*float64(len(sorted))))-1]
		ps := p.Seconds()
		l.P95Seconds = &ps
		if p > floor {
			base, l.Basis = p, "learned"
		}
	}
	if base > 0 {
		l.Seconds = (time.Duration(float64(base)*Factor) + Margin).Seconds()
	}
	return l
}

// Duration is the lead as a duration.
func (l Lead) Duration() time.Duration { return time.Duration(l.Seconds * float64(time.Second)) }

// Source reads the recent create-to-ready durations of a platform's starts
// of one kind, most recent first.
type Source interface {
	ReadyDurations(ctx context.Context, platform string, warm bool, limit int) ([]time.Duration, error)
}

// Estimator keeps the estimates of every configured key, read again from
// the database when older than TTL: every replica computes the same.
type Estimator struct {
	Source Source
	Floors Floors
	// Keys are the estimates kept, in display order.
	Keys []Key
	TTL  time.Duration

	mu     sync.Mutex
	leads  map[Key]Lead
	readAt time.Time
}

// All returns every estimate, in Keys order. A failed read keeps serving
// the last estimates (or the floors).
func (e *Estimator) All(ctx context.Context) []Lead {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leads == nil || time.Since(e.readAt) >= e.TTL {
		e.refresh(ctx)
	}
	out := make([]Lead, len(e.Keys))
	for i, k := range e.Keys {
		out[i] = e.leads[k]
	}
	return out
}

// For is the estimate of one key (its floor when unknown).
func (e *Estimator) For(ctx context.Context, key Key) Lead {
	for _, l := range e.All(ctx) {
		if l.Platform == key.Platform && l.Start == key.Start {
			return l
		}
	}
	return Estimate(key, nil, e.Floors[key])
}

func (e *Estimator) refresh(ctx context.Context) {
	leads := make(map[Key]Lead, len(e.Keys))
	for _, k := range e.Keys {
		samples, err := e.Source.ReadyDurations(ctx, k.Platform, k.Start == Warm, Samples)
		if err != nil {
			if old, ok := e.leads[k]; ok {
				leads[k] = old
				continue
			}
		}
		leads[k] = Estimate(k, samples, e.Floors[k])
	}
	e.leads, e.readAt = leads, time.Now()
}
