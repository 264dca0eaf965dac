package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

// APIResult is the user and bot API under load (DESIGN §12).
type APIResult struct {
	Creates            int     `json:"creates"`
	CreatesPerSecond   float64 `json:"create_bots_per_second"`
	CreateP99Ms        float64 `json:"create_p99_ms"`
	Heartbeats         int     `json:"heartbeats"`
	HeartbeatsPerSec   float64 `json:"heartbeats_per_second"`
	HeartbeatP99Ms     float64 `json:"heartbeat_p99_ms"`
	ConcurrentRequests int     `json:"concurrent_requests"`
	// StoreHeartbeatsPerSecond is the store's heartbeat (token check, update,
	// read back) called directly: what HTTP costs is the gap to
	// HeartbeatsPerSec, what the check costs the gap to the raw UPDATE.
	StoreHeartbeatsPerSecond float64 `json:"store_heartbeats_per_second"`
	// RawDB is Postgres's rate for the same writes, measured right after
	// the API's in the same run.
	RawDB RawDBResult `json:"raw_db"`
}

// ratios reads the API's rates against the raw database's.
func (a APIResult) ratios() Ratios {
	return Ratios{CreateVsRawDB: a.CreatesPerSecond / a.RawDB.CreatesPerSecond,
		HeartbeatVsRawDB: a.HeartbeatsPerSec / a.RawDB.HeartbeatsPerSecond}
}

// rounds interleaves the API's and the raw database's runs, so that what
// drifts during a run (table size, checkpoints, autovacuum, neighbours on a
// shared machine) weighs on both alike.
const rounds = 3

// measureAPI runs the API alone (no controller: its jobs wait in River) and
// hammers POST /api/v1/bots, then POST /bot/v1/heartbeat of running bots,
// each in rounds alternating with the same writes made straight to Postgres.
func measureAPI(ctx context.Context, pool *pgxpool.Pool, creates int, beatFor time.Duration) (APIResult, error) {
	rc, err := controllers.NewInsertClient(pool)
	if err != nil {
		return APIResult{}, err
	}
	enq := controllers.NewEnqueuer(rc)
	st := store.New(pool, enq)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return APIResult{}, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: (&api.Server{Store: st, Clock: clock.Wall{},
		Metrics: metrics.New(metrics.Options{}), // as served: every request counted
		Logger:  zap.NewNop(), Config: api.Config{MaxBotLifetime: 3 * time.Hour, BotHeartbeatInterval: 10 * time.Second}}).Handler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	key, _, err := st.CreateAPIKey(ctx, "api-bench", "bench", time.Now())
	if err != nil {
		return APIResult{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: apiWorkers}}
	body := []byte(`{"meeting_url":"https://zoom.us/j/1234567890"}`)
	var apiCreate, rawCreate, apiBeat, storeBeat, rawBeat loadRounds
	for range rounds {
		apiCreate.add(load(apiWorkers, creates/rounds, 0, func(int) error {
			return post(client, base+"/api/v1/bots", body, "Authorization", "Bearer "+key)
		}))
		rawCreate.add(load(apiWorkers, creates/rounds, 0, rawCreateTx(ctx, pool, enq)))
	}
	if rawCreate.n() == 0 {
		return APIResult{}, fmt.Errorf("raw creates: %w", rawCreateTx(ctx, pool, enq)(0))
	}
	tokens, ids, err := runningBots(ctx, st, 1000)
	if err != nil {
		return APIResult{}, err
	}
	for range rounds {
		apiBeat.add(load(apiWorkers, 0, beatFor/rounds, func(i int) error {
			j := i % len(tokens)
			return post(client, base+botproto.PathHeartbeat, []byte("{}"), "Authorization", "Bearer "+tokens[j],
				botproto.HeaderBotID, ids[j].String())
		}))
		storeBeat.add(load(apiWorkers, 0, beatFor/rounds, func(i int) error {
			_, err := st.Heartbeat(ctx, tokens[i%len(tokens)], ids[i%len(ids)], time.Now())
			return err
		}))
		rawBeat.add(load(apiWorkers, 0, beatFor/rounds, rawHeartbeat(ctx, pool, ids)))
	}
	res := APIResult{Creates: apiCreate.n(), CreatesPerSecond: apiCreate.perSecond(), CreateP99Ms: p99(apiCreate.lat),
		Heartbeats: apiBeat.n(), HeartbeatsPerSec: apiBeat.perSecond(), HeartbeatP99Ms: p99(apiBeat.lat),
		ConcurrentRequests:       apiWorkers,
		StoreHeartbeatsPerSecond: storeBeat.perSecond(),
		RawDB:                    RawDBResult{CreatesPerSecond: rawCreate.perSecond(), HeartbeatsPerSecond: rawBeat.perSecond()}}
	fmt.Printf("created %d bots through the API: %.0f/s, p99 %.1f ms\n", res.Creates, res.CreatesPerSecond, res.CreateP99Ms)
	fmt.Printf("%d heartbeats: %.0f/s, p99 %.1f ms (the store's heartbeat without HTTP: %.0f/s)\n",
		res.Heartbeats, res.HeartbeatsPerSec, res.HeartbeatP99Ms, res.StoreHeartbeatsPerSecond)
	fmt.Printf("raw Postgres, %d at a time: %.0f create transactions/s, %.0f heartbeat updates/s\n",
		apiWorkers, res.RawDB.CreatesPerSecond, res.RawDB.HeartbeatsPerSecond)
	return res, nil
}

// apiWorkers is how many requests (or raw transactions) are in flight.
const apiWorkers = 32

// loadRounds sums the calls of several load rounds.
type loadRounds struct {
	lat  []time.Duration
	took time.Duration
}

func (r *loadRounds) add(lat []time.Duration, took time.Duration) {
	r.lat = append(r.lat, lat...)
	r.took += took
}

func (r *loadRounds) n() int { return len(r.lat) }

func (r *loadRounds) perSecond() float64 {
	if r.took <= 0 {
		return 0
	}
	return float64(len(r.lat)) / r.took.Seconds()
}

// runningBots admits n of the created bots and gives each attempt a token,
// as the reconciler does before a workload starts.
func runningBots(ctx context.Context, st *store.Store, n int) ([]string, []uuid.UUID, error) {
	ids, err := st.Admit(ctx, store.PlatformLimit{Platform: "bench", Limit: n}, time.Now())
	if err != nil {
		return nil, nil, err
	}
	tokens := make([]string, len(ids))
	for i, id := range ids {
		tokens[i] = "mbt_bench_" + id.String()
		if _, err := st.BeginCreate(ctx, id, 1, tokens[i], time.Now()); err != nil {
			return nil, nil, err
		}
		if err := st.MarkRunning(ctx, id, 1, "bench", time.Now()); err != nil {
			return nil, nil, err
		}
	}
	return tokens, ids, nil
}

// load runs do from workers goroutines, count calls in all or for d, and
// returns every call's latency and the elapsed time.
func load(workers, count int, d time.Duration, do func(i int) error) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	next := make(chan int, workers)
	start := time.Now()
	go func() {
		for i := 0; (count > 0 && i < count) || (count == 0 && time.Since(start) < d); i++ {
			next <- i
		}
		close(next)
	}()
	for range workers {
		wg.Go(func() {
			for i := range next {
				t := time.Now()
				if err := do(i); err == nil {
					mu.Lock()
					lat = append(lat, time.Since(t))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start)
}

func post(c *http.Client, url string, body []byte, headers ...string) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[len(s)*99/100]) / float64(time.Millisecond)
}
