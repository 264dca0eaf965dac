package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/store"
)

const lifetime = time.Hour

// secondReplica is a store on the same database through its own pool, as
// a second API replica has.
func secondReplica(t *testing.T, b *testBundle) *store.Store {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), b.pool.Config())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	return store.New(pool, controllers.NewEnqueuer(client))
}

// window asks for capacity on platform around joinAt, as the API does.
func window(platform string, limit int, joinAt time.Time) store.Reservation {
	return store.Reservation{Platform: platform, Limit: limit, From: joinAt.Add(-2 * time.Minute),
		Until: joinAt.Add(lifetime), Lifetime: lifetime}
}

func (b *testBundle) schedule(t *testing.T, joinAt time.Time, reserve ...store.Reservation) store.Bot {
	t.Helper()
	nb := newBot("acme")
	nb.JoinAt, nb.Reserve = &joinAt, reserve
	res, err := b.store.CreateBot(context.Background(), nb, nil, t0, render)
	require.NoError(t, err)
	return res.Bot
}

// peakReserved is the most reserved windows on platform covering one
// instant, from the rows (a sweep over their edges).
func peakReserved(t *testing.T, b *testBundle, platform string) int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT reserved_from, reserved_until FROM bots WHERE reserved_platform = $1`, platform)
	require.NoError(t, err)
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for rows.Next() {
		var from, until time.Time
		require.NoError(t, rows.Scan(&from, &until))
		edges = append(edges, edge{from, 1}, edge{until, -1})
	}
	require.NoError(t, rows.Err())
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d
	})
	peak, n := 0, 0
	for _, e := range edges {
		n += e.d
		peak = max(peak, n)
	}
	return peak
}

// Two API replicas (two pools) reserve at once against a limit of 3: the
// windows held never exceed it at any instant, checked after every create,
// and windows that do not overlap all get capacity.
func TestReservationsAreNeverOversubscribed(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	other := secondReplica(t, bundle)
	const limit = 3
	// Two meetings two hours apart: their windows never overlap.
	meetings := []time.Time{t0.Add(time.Hour), t0.Add(3 * time.Hour)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*store.Store{st, other}[i%2]
			join := meetings[i%2]
			nb := newBot("acme")
			nb.JoinAt, nb.Reserve = &join, []store.Reservation{window("aws", limit, join)}
			_, err := s.CreateBot(context.Background(), nb, nil, t0, render)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			require.LessOrEqual(t, peakReserved(t, bundle, "aws"), limit)
		}()
	}
	wg.Wait()
	var reserved int
	require.NoError(t, bundle.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM bots WHERE reserved_platform = 'aws'`).Scan(&reserved))
	require.Equal(t, 2*limit, reserved, "each meeting's window got the whole limit")
	require.Equal(t, limit, peakReserved(t, bundle, "aws"))
}

// The second candidate is used when the first platform is full; with
// none left the bot is created best effort, without a reservation.
func TestReservationFallsToTheNextCandidateThenToBestEffort(t *testing.T) {
	t.Parallel()
	_, bundle := setup(t)
	join := t0.Add(time.Hour)
	candidates := []store.Reservation{window("coolify", 1, join), window("aws", 1, join)}
	first := bundle.schedule(t, join, candidates...)
	second := bundle.schedule(t, join, candidates...)
	third := bundle.schedule(t, join, candidates...)
	require.Equal(t, "coolify", *first.ReservedPlatform)
	require.Equal(t, "aws", *second.ReservedPlatform)
	require.Nil(t, third.ReservedPlatform)
	require.Equal(t, join.Add(-2*time.Minute), first.ReservedFrom.UTC())
	require.Equal(t, join.Add(lifetime), first.ReservedUntil.UTC())
}

// Ad-hoc bots queued first cannot take capacity a reservation holds within
// their lifetime; once the window is due, the reserved bot is admitted
// ahead of them. Capacity reserved beyond an ad-hoc bot's lifetime is
// lent to it.
func TestAdHocBotsCannotTakeReservedCapacity(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	p := store.PlatformLimit{Platform: "aws", Limit: 2, Lifetime: lifetime}
	join := t0.Add(30 * time.Minute)
	scheduled := bundle.schedule(t, join, window("aws", p.Limit, join))
	later := t0.Add(3 * time.Hour)
	bundle.schedule(t, later, window("aws", p.Limit, later))
	var adHoc []uuid.UUID
	for range 5 {
		adHoc = append(adHoc, bundle.create(t, "other").ID)
	}

	admitted, err := st.Admit(ctx, p, t0)
	require.NoError(t, err)
	require.Len(t, admitted, 1, "one unit is held for the reservation 30 minutes ahead; the one 3 hours ahead lends its")
	require.Contains(t, adHoc, admitted[0])

	due := join.Add(-time.Minute)
	require.NoError(t, st.QueueBot(ctx, scheduled.ID, due))
	admitted, err = st.Admit(ctx, p, due)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{scheduled.ID}, admitted, "the reserved bot goes first, though ad-hoc bots queued before it")
	admitted, err = st.Admit(ctx, p, due)
	require.NoError(t, err)
	require.Empty(t, admitted, "the platform is full")
}

// Cancelling a scheduled bot gives its window back at once; a bot that ends
// gives it back too; PATCH moves a window or fails with nothing changed.
func TestReservationsAreReleasedAndMoved(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	join := t0.Add(time.Hour)
	a := bundle.schedule(t, join, window("aws", 1, join))
	b := bundle.schedule(t, join, window("aws", 1, join))
	require.NotNil(t, a.ReservedPlatform)
	require.Nil(t, b.ReservedPlatform, "the limit is held by a")

	_, err := st.RequestStop(ctx, "acme", a.ID, store.StopCancel, t0)
	require.NoError(t, err)
	require.Zero(t, peakReserved(t, bundle, "aws"), "a cancelled bot holds nothing")
	_, err = st.PatchBot(ctx, "acme", a.ID, store.BotPatch{BotName: new("x")}, t0)
	require.ErrorIs(t, err, store.ErrAdmitted)

	// b, best effort so far, gets the window a gave back with its new join_at.
	moved := join.Add(10 * time.Minute)
	b, err = st.PatchBot(ctx, "acme", b.ID, store.BotPatch{JoinAt: &moved, BotName: new("renamed"),
		Reserve: []store.Reservation{window("aws", 1, moved)}}, t0)
	require.NoError(t, err)
	require.Equal(t, "renamed", b.BotName)
	require.Equal(t, moved, b.JoinAt.UTC())
	require.Equal(t, moved.Add(-2*time.Minute), b.ReservedFrom.UTC())

	// c takes a later window; moving b onto c's fails and changes nothing.
	later := t0.Add(4 * time.Hour)
	c := bundle.schedule(t, later, window("aws", 1, later))
	require.NotNil(t, c.ReservedPlatform)
	_, err = st.PatchBot(ctx, "acme", b.ID, store.BotPatch{JoinAt: &later, BotName: new("again"),
		Reserve: []store.Reservation{window("aws", 1, later)}}, t0)
	require.ErrorIs(t, err, store.ErrNoCapacity)
	got, err := st.GetBot(ctx, "acme", b.ID)
	require.NoError(t, err)
	require.Equal(t, "renamed", got.BotName)
	require.Equal(t, moved.Add(-2*time.Minute), got.ReservedFrom.UTC())

	// A bot that ends, whatever the way, holds nothing.
	_, err = st.FinishBot(ctx, c.ID, store.StatusFatal, "test", t0)
	require.NoError(t, err)
	got, err = st.GetBot(ctx, "acme", c.ID)
	require.NoError(t, err)
	require.Nil(t, got.ReservedPlatform)
}

// A PATCH that moves join_at into the past queues the bot; one that moves a
// queued bot's join_at ahead schedules it again.
func TestPatchJoinAtMovesTheBotBetweenScheduledAndQueued(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	b := bundle.schedule(t, t0.Add(time.Hour))
	require.Equal(t, store.StatusScheduled, b.Status)
	now := t0.Add(time.Minute)
	b, err := st.PatchBot(ctx, "acme", b.ID, store.BotPatch{JoinAt: &t0}, now)
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, b.Status)
	require.Equal(t, now, b.QueuedAt.UTC())
	ahead := t0.Add(2 * time.Hour)
	b, err = st.PatchBot(ctx, "acme", b.ID, store.BotPatch{JoinAt: &ahead}, now)
	require.NoError(t, err)
	require.Equal(t, store.StatusScheduled, b.Status)
	require.Nil(t, b.QueuedAt)
	_, err = st.PatchBot(ctx, "other", b.ID, store.BotPatch{JoinAt: &ahead}, now)
	require.ErrorIs(t, err, store.ErrNotFound, "another owner's bot")
}

// Scheduled bots whose admission time has come (join_at less the lead of
// their reserved platform, or the unreserved lead) are queued in bulk; the
// others, and a bot just created (its next check is now), are left alone.
func TestQueueDueScheduled(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	join := t0.Add(time.Hour)
	reserved := bundle.schedule(t, join, window("aws", 5, join))
	unreserved := bundle.schedule(t, join)
	later := bundle.schedule(t, join.Add(time.Hour))
	leads := store.Leads{Reserved: map[string]time.Duration{"aws": 90 * time.Second}, Unreserved: 30 * time.Second}

	n, err := st.QueueDueScheduled(ctx, t0, leads, 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is due")
	n, err = st.QueueDueScheduled(ctx, join.Add(-90*time.Second), leads, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the bot reserved on aws, 90 s ahead")
	n, err = st.QueueDueScheduled(ctx, join.Add(-30*time.Second), leads, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the unreserved bot, 30 s ahead")
	for id, want := range map[uuid.UUID]store.Status{reserved.ID: store.StatusQueued, unreserved.ID: store.StatusQueued,
		later.ID: store.StatusScheduled} {
		got, err := st.GetBot(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, want, got.Status)
	}
	got, err := st.GetBot(ctx, "acme", reserved.ID)
	require.NoError(t, err)
	require.Equal(t, join.Add(-90*time.Second), got.QueuedAt.UTC(), "its queue wait starts then")
}
