package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
)

const (
	simToken       = "1|e2e-token"
	simProjectUUID = "proje2e00000000000000001"
	simServerUUID  = "serve2e00000000000000001"
)

// coolifySystem is a system whose controller deploys to a Coolify simulator
// running in this test process; its containers are real meeboter-bot
// processes in pool-slot mode.
func coolifySystem(t *testing.T, extraEnv ...string) (*system, *coolifysim.Sim) {
	t.Helper()
	sim, srv := coolifysim.NewServer(t, coolifysim.Config{Token: simToken, ProjectUUID: simProjectUUID, ServerUUID: simServerUUID,
		ConcurrentBuilds: 4, ColdStart: 300 * time.Millisecond, WarmStart: 50 * time.Millisecond, DeleteDelay: 50 * time.Millisecond,
		Workload: coolifysim.ProcessWorkload([]string{filepath.Join(binDir, "meeboter-bot"), "--simulate"})})
	env := append([]string{"DEPLOYMENT_PLATFORM=coolify", "COOLIFY_API_URL=" + srv.URL + "/api/v1", "COOLIFY_API_TOKEN=" + simToken,
		"COOLIFY_PROJECT_UUID=" + simProjectUUID, "COOLIFY_SERVER_UUID=" + simServerUUID, "COOLIFY_RATE_LIMIT=100000",
		"POOL_MIN_IDLE=0", "POOL_MAX_SLOTS=30", "POOL_SYNC_INTERVAL=300ms", "COOLIFY_MAX_CONCURRENT_DEPLOYS=4"}, extraEnv...)
	return newSystem(t, env...), sim
}

// TestCoolifyPoolCrashRecovery SIGKILLs `meeboter serve` during pool
// operations (claims, starts, releases) and restarts it: no slot runs two
// bots, no application leaks, every bot ends with a reason, every slot is
// back to IDLE.
func TestCoolifyPoolCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: run without -short")
	}
	t.Parallel()
	s, sim := coolifySystem(t)
	f := &fleet{s: s}
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)

	const bots, iterations = 30, 4
	c = crashRun{bots: bots, crashes: iterations, spread: 6 * time.Second, minCall: 1, callRange: 3,
		minUp: 700 * time.Millisecond, upRange: 2 * time.Second, down: 800 * time.Millisecond}.run(t, f, addr, logs, c)
	outcomes := f.checkConverged(t, addr, 3*time.Minute)
	requirePoolSettled(t, s, sim)
	t.Logf("coolify pool crash test: %d crashes, %d bots, outcomes %v", iterations, bots, outcomes)
	c.stop(t)
}

// requirePoolSettled checks that every slot is back to IDLE with nothing
// running, and that every application in Coolify is a known slot.
func requirePoolSettled(t *testing.T, s *system, sim *coolifysim.Sim) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var busy int
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pool_slots WHERE state <> 'IDLE' OR assigned_deployment IS NOT NULL`).Scan(&busy))
		return busy == 0
	}, time.Minute, 100*time.Millisecond, "slots not back to IDLE")
	rows, _ := conn.Query(context.Background(), `SELECT app_uuid FROM pool_slots`)
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		live := 0
		for _, a := range sim.Apps() {
			if a.Deleted {
				continue
			}
			live++
			if a.Running || !contains(known, a.UUID) {
				return false
			}
		}
		return live == len(known)
	}, time.Minute, 100*time.Millisecond, "a Coolify application leaked or still runs: %+v", sim.Apps())
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
