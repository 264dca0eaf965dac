package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

func (b *testBundle) createAt(t *testing.T, owner string, at time.Time) store.Bot {
	t.Helper()
	res, err := b.store.CreateBot(context.Background(), newBot(owner), nil, at, render)
	require.NoError(t, err)
	return res.Bot
}

// The starvation probe: tenant B fills the platform and queues
// more; tenant A's one bot, queued after B's backlog, is admitted as soon as
// capacity frees, before the rest of B's backlog.
func TestAdmitFairAcrossTenants(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	p := store.PlatformLimit{Platform: "local", Limit: 3, Lifetime: time.Hour}
	var bBots []store.Bot
	for i := range 6 {
		bBots = append(bBots, b.createAt(t, "tenant-b", t0.Add(time.Duration(i)*time.Second)))
	}
	admitted, err := st.Admit(ctx, p, t0.Add(time.Minute))
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{bBots[0].ID, bBots[1].ID, bBots[2].ID}, admitted)
	a := b.createAt(t, "tenant-a", t0.Add(2*time.Minute))

	admitted, err = st.Admit(ctx, p, t0.Add(3*time.Minute))
	require.NoError(t, err)
	require.Empty(t, admitted, "the platform is full")
	require.NoError(t, st.MarkGone(ctx, bBots[0].ID, 1, t0.Add(4*time.Minute)))
	admitted, err = st.Admit(ctx, p, t0.Add(4*time.Minute))
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{a.ID}, admitted, "A's bot goes before B's older backlog")

	pos, err := st.QueuePosition(ctx, mustGet(t, st, bBots[3]))
	require.NoError(t, err)
	require.Equal(t, 1, pos, "B's backlog is next once A is served")
}

// Two tenants with backlogs and nothing live take turns, oldest first.
func TestAdmitRoundRobinBetweenBacklogs(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	var first, second []uuid.UUID
	for i := range 4 {
		first = append(first, b.createAt(t, "first", t0.Add(time.Duration(i)*time.Second)).ID)
	}
	for i := range 4 {
		second = append(second, b.createAt(t, "second", t0.Add(time.Minute+time.Duration(i)*time.Second)).ID)
	}
	admitted, err := st.Admit(context.Background(), store.PlatformLimit{Platform: "local", Limit: 4, Lifetime: time.Hour}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{first[0], second[0], first[1], second[1]}, admitted)
}

func mustGet(t *testing.T, st *store.Store, bot store.Bot) store.Bot {
	t.Helper()
	got, err := st.GetBot(context.Background(), bot.Owner, bot.ID)
	require.NoError(t, err)
	return got
}

// Concurrent creates against a cap of 3 (stored for the tenant, over a
// default of 100) make exactly 3 bots; the rest are CapErrors. Another
// tenant, under the default, is unaffected, and an ended bot frees room.
func TestCreateCappedConcurrently(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	require.NoError(t, st.SetTenantLimits(ctx, store.TenantLimits{Owner: "capped", MaxBots: new(3)}, t0))
	create := func(owner string) error {
		nb := newBot(owner)
		nb.MaxBots = 100
		_, err := st.CreateBot(ctx, nb, nil, t0, render)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() { errs[i] = create("capped") })
	}
	wg.Wait()
	var ok int
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		var capErr *store.CapError
		require.ErrorAs(t, err, &capErr)
		require.True(t, errors.Is(err, store.ErrOverCap))
		require.Equal(t, 3, capErr.Cap)
	}
	require.Equal(t, 3, ok)
	bots, err := st.ListBots(ctx, "capped", store.BotFilter{Limit: 100})
	require.NoError(t, err)
	require.Len(t, bots, 3)
	require.NoError(t, create("other"))

	_, err = st.RequestStop(ctx, "capped", bots[0].ID, store.StopCancel, t0)
	require.NoError(t, err)
	require.NoError(t, create("capped"), "a cancelled bot no longer counts")
	_ = b
}

// Stored limits override the defaults field by field; storing none resets.
func TestTenantLimitsStored(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	_ = b.create(t, "keyless-bot-owner")
	_, _, err := st.CreateAPIKey(ctx, "acme", "k", t0)
	require.NoError(t, err)
	def := store.Limits{RatePerSecond: 10, RateBurst: 20, MaxBots: 50}
	got, err := st.TenantLimits(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, def, got.Resolve(def))

	require.NoError(t, st.SetTenantLimits(ctx, store.TenantLimits{Owner: "acme", RatePerSecond: new(2.5), MaxBots: new(0)}, t0))
	got, err = st.TenantLimits(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, store.Limits{RatePerSecond: 2.5, RateBurst: 20, MaxBots: 0}, got.Resolve(def))
	all, err := st.ListTenantLimits(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "acme", all[0].Owner)

	require.NoError(t, st.SetTenantLimits(ctx, store.TenantLimits{Owner: "acme"}, t0))
	got, err = st.TenantLimits(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, def, got.Resolve(def))
}
