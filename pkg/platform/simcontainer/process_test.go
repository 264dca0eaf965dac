package simcontainer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcessWorkloadExitCodes(t *testing.T) {
	t.Parallel()
	stopped := errors.New("stopped")
	crashed := fmt.Errorf("crashed: %w", ErrKilled)
	run := func(command []string, cancel error, opts ...ProcessOption) (int, time.Duration) {
		ctx, stop := context.WithCancelCause(context.Background())
		defer stop(nil)
		if cancel != nil {
			time.AfterFunc(50*time.Millisecond, func() { stop(cancel) })
		}
		start := time.Now()
		return ProcessWorkload(command, opts...)(ctx, nil), time.Since(start)
	}
	t.Run("exit status", func(t *testing.T) {
		t.Parallel()
		code, _ := run([]string{"/bin/sh", "-c", "exit 3"}, nil)
		require.Equal(t, 3, code)
	})
	t.Run("cannot start", func(t *testing.T) {
		t.Parallel()
		code, _ := run([]string{"/nonexistent/bot"}, nil)
		require.Equal(t, 127, code)
	})
	t.Run("stop is SIGTERM", func(t *testing.T) {
		t.Parallel()
		code, took := run([]string{"sleep", "60"}, stopped)
		require.Equal(t, 128+15, code)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("a killed container is SIGKILLed at once", func(t *testing.T) {
		t.Parallel()
		code, _ := run([]string{"/bin/sh", "-c", "trap '' TERM; sleep 60"}, crashed)
		require.Equal(t, 128+9, code)
	})
	t.Run("SIGKILL after the grace", func(t *testing.T) {
		t.Parallel()
		code, took := run([]string{"/bin/sh", "-c", "trap '' TERM; sleep 60 & wait; wait"}, stopped,
			WithKillGrace(200*time.Millisecond))
		require.Equal(t, 128+9, code)
		require.GreaterOrEqual(t, took, 200*time.Millisecond)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("the stop grace comes from the context", func(t *testing.T) {
		t.Parallel()
		ctx, stop := context.WithCancelCause(WithStopGrace(context.Background(), 200*time.Millisecond))
		time.AfterFunc(50*time.Millisecond, func() { stop(stopped) })
		start := time.Now()
		code := ProcessWorkload([]string{"/bin/sh", "-c", "trap '' TERM; sleep 60 & wait; wait"})(ctx, nil)
		require.Equal(t, 128+9, code)
		require.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestEventsFireInTimeOrderAtTheirDueTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return t0.Add(time.Hour) }
	var e Events
	var fired []string
	var stamps []time.Time
	e.At(t0.Add(2*time.Second), func() { fired = append(fired, "b"); stamps = append(stamps, e.Now(clock)) })
	e.At(t0.Add(time.Second), func() {
		fired = append(fired, "a")
		e.At(e.Now(clock).Add(500*time.Millisecond), func() { fired = append(fired, "a2") })
	})
	e.At(t0.Add(2*time.Second), func() { fired = append(fired, "c") })
	e.At(t0.Add(2*time.Hour), func() { fired = append(fired, "later") })
	e.Advance(clock())
	require.Equal(t, []string{"a", "a2", "b", "c"}, fired, "time order, ties in scheduling order, chains replayed")
	require.Equal(t, []time.Time{t0.Add(2 * time.Second)}, stamps, "an event sees its own due time")
	require.Equal(t, clock(), e.Now(clock), "outside an event, the clock")
}
