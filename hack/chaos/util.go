package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// percentile is the p-th percentile (0–100) of samples by the
// nearest-rank method; 0 for none.
func percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// round2 rounds to hundredths, for the report.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// lockedRand is a random source goroutines share.
type lockedRand struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newLockedRand(seed int64) *lockedRand {
	return &lockedRand{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5bd1e995))}
}

func (r *lockedRand) intn(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(n)
}

func (r *lockedRand) between(lo, hi time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return between(r.rng, lo, hi)
}

// botOfWorkload is the bot id in a workload name meeboter-<bot>-<attempt>,
// and the attempt; ok is false for any other name.
func botOfWorkload(name string) (bot string, attempt int, ok bool) {
	rest, found := strings.CutPrefix(name, "meeboter-")
	i := strings.LastIndexByte(rest, '-')
	if !found || i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, false
	}
	return rest[:i], n, true
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx interface{ Done() <-chan struct{} }, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
