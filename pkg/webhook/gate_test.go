package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/webhook"
)

var gateT0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func TestGateCapsPerTenantAndPerHost(t *testing.T) {
	t.Parallel()
	g := &webhook.Gate{PerTenant: 2, PerHost: 3, Wait: 500 * time.Millisecond}
	a1 := g.Admit("b", "h1", gateT0)
	a2 := g.Admit("b", "h2", gateT0)
	require.Zero(t, a1.Wait)
	require.Zero(t, a2.Wait)
	over := g.Admit("b", "h3", gateT0)
	require.Equal(t, 500*time.Millisecond, over.Wait, "tenant b holds its two")
	require.False(t, over.Parked)
	require.Zero(t, g.Admit("a", "h1", gateT0).Wait, "another tenant is not held up")
	require.Zero(t, g.Admit("c", "h1", gateT0).Wait)
	require.NotZero(t, g.Admit("d", "h1", gateT0).Wait, "h1 holds its three")
	g.Done("b", "h1", a1, false, gateT0)
	require.Zero(t, g.Admit("b", "h3", gateT0).Wait, "a finished delivery frees its place")
}

func TestGateBreakerParksADeadReceiverThenProbes(t *testing.T) {
	t.Parallel()
	g := &webhook.Gate{BreakAfter: 3, Cooldown: 10 * time.Second, MaxCooldown: 25 * time.Second}
	now := gateT0
	fail := func() {
		t.Helper()
		v := g.Admit("b", "dead", now)
		require.Zero(t, v.Wait)
		g.Done("b", "dead", v, true, now)
	}
	fail()
	fail()
	require.Zero(t, g.Admit("a", "alive", now).Wait)
	fail()
	v := g.Admit("b", "dead", now)
	require.True(t, v.Parked, "three failures in a row open it")
	require.Equal(t, 10*time.Second, v.Wait)

	now = now.Add(10 * time.Second)
	probe := g.Admit("b", "dead", now)
	require.Zero(t, probe.Wait, "after the cooldown one probe goes")
	require.True(t, g.Admit("b", "dead", now).Parked, "and only one")
	g.Done("b", "dead", probe, true, now)
	require.Equal(t, 20*time.Second, g.Admit("b", "dead", now).Wait, "a failed probe doubles the cooldown")

	now = now.Add(20 * time.Second)
	probe = g.Admit("b", "dead", now)
	g.Done("b", "dead", probe, true, now)
	require.Equal(t, 25*time.Second, g.Admit("b", "dead", now).Wait, "up to the maximum")

	now = now.Add(25 * time.Second)
	probe = g.Admit("b", "dead", now)
	g.Done("b", "dead", probe, false, now)
	require.Zero(t, g.Admit("b", "dead", now).Wait, "an answer closes it")
}

func TestGateAdmitWithinWaitsForAFreedSlot(t *testing.T) {
	t.Parallel()
	g := &webhook.Gate{PerTenant: 1, Patience: time.Minute, Wait: time.Second}
	first := g.Admit("b", "h", gateT0)
	require.Zero(t, first.Wait)
	admitted := make(chan webhook.Verdict)
	go func() { admitted <- g.AdmitWithin(context.Background(), "b", "h", time.Now) }()
	select {
	case v := <-admitted:
		t.Fatalf("admitted over the cap: %+v", v)
	case <-time.After(20 * time.Millisecond):
	}
	g.Done("b", "h", first, false, gateT0)
	require.Zero(t, (<-admitted).Wait, "the freed slot goes to the waiting delivery, not a snooze")
}

func TestGateAdmitWithinGivesUpAfterPatience(t *testing.T) {
	t.Parallel()
	g := &webhook.Gate{PerTenant: 1, Patience: 10 * time.Millisecond, Wait: time.Second}
	require.Zero(t, g.Admit("b", "h", gateT0).Wait)
	v := g.AdmitWithin(context.Background(), "b", "h", time.Now)
	require.Equal(t, time.Second, v.Wait, "a slot that stays taken means a snooze")
	require.False(t, v.Parked)

	parked := &webhook.Gate{BreakAfter: 1, Cooldown: time.Minute, Patience: time.Hour}
	p := parked.Admit("b", "dead", gateT0)
	parked.Done("b", "dead", p, true, gateT0)
	start := time.Now()
	require.True(t, parked.AdmitWithin(context.Background(), "b", "dead", func() time.Time { return gateT0 }).Parked)
	require.Less(t, time.Since(start), time.Second, "a parked receiver is not waited for in the worker")
}
