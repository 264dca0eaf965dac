package leadtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/leadtime"
)

var awsCold = leadtime.Key{Platform: "aws", Start: leadtime.Cold}

func seconds(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func TestEstimate(t *testing.T) {
	t.Parallel()
	l := leadtime.Estimate(awsCold, seconds(60, 70), 90*time.Second)
	require.Equal(t, "floor", l.Basis, "too few samples")
	require.InDelta(t, 90*1.5+2, l.Seconds, 1e-9, "the floor, with the margin")
	require.Nil(t, l.P95Seconds)

	// p95 of 20 samples 61..80 is 79 s: below the floor.
	var s []float64
	for i := 61; i <= 80; i++ {
		s = append(s, float64(i))
	}
	l = leadtime.Estimate(awsCold, seconds(s...), 90*time.Second)
	require.Equal(t, "floor", l.Basis, "never below the floor")
	require.InDelta(t, 79, *l.P95Seconds, 1e-9)
	require.InDelta(t, 137, l.Seconds, 1e-9)

	// Above a 60 s floor the p95 wins: 79 × 1.5 + 2 = 120.5 s.
	l = leadtime.Estimate(awsCold, seconds(s...), time.Minute)
	require.Equal(t, "learned", l.Basis)
	require.InDelta(t, 120.5, l.Seconds, 1e-6)
	require.Equal(t, 20, l.Samples)

	require.Zero(t, leadtime.Estimate(awsCold, nil, 0).Seconds, "nothing known, no floor: no lead")
}

type source struct {
	samples []time.Duration
	err     error
	reads   int
}

func (s *source) ReadyDurations(context.Context, string, bool, int) ([]time.Duration, error) {
	s.reads++
	return s.samples, s.err
}

func TestEstimatorRefreshesAndKeepsTheLastOnError(t *testing.T) {
	t.Parallel()
	src := &source{samples: seconds(10, 10, 10, 10, 10)}
	e := &leadtime.Estimator{Source: src, Floors: leadtime.Floors{awsCold: time.Second}, Keys: []leadtime.Key{awsCold}, TTL: time.Hour}
	ctx := context.Background()
	require.InDelta(t, 17, e.For(ctx, awsCold).Seconds, 1e-9)
	require.InDelta(t, 17, e.For(ctx, awsCold).Seconds, 1e-9)
	require.Equal(t, 1, src.reads, "cached for the TTL")

	e.TTL = 0
	src.err = errors.New("db down")
	require.InDelta(t, 17, e.For(ctx, awsCold).Seconds, 1e-9, "the last estimate is kept")
	unknown := leadtime.Key{Platform: "local", Start: leadtime.Cold}
	require.InDelta(t, 0, e.For(ctx, unknown).Seconds, 0)
}
