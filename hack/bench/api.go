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
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/botproto"
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
}

// measureAPI runs the API alone (no controller: its jobs wait in River) and
// hammers POST /api/v1/bots, then POST /bot/v1/heartbeat of running bots.
func measureAPI(ctx context.Context, pool *pgxpool.Pool, creates int, beatFor time.Duration) (APIResult, error) {
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return APIResult{}, err
	}
	st := store.New(pool, controllers.NewEnqueuer(rc))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return APIResult{}, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: (&api.Server{Store: st, Clock: wallClock{},
		Logger: zap.NewNop(), Config: api.Config{MaxBotLifetime: 3 * time.Hour, BotHeartbeatInterval: 10 * time.Second}}).Handler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	key, _, err := st.CreateAPIKey(ctx, "api-bench", "bench", time.Now())
	if err != nil {
		return APIResult{}, err
	}
	const workers = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	body := []byte(`{"meeting_url":"https://zoom.us/j/1234567890"}`)
	createLat, createTook := load(workers, creates, 0, func(int) error {
		return post(client, base+"/api/v1/bots", body, "Authorization", "Bearer "+key)
	})
	fmt.Printf("created %d bots through the API: %.0f/s, p99 %.1f ms\n", creates, float64(creates)/createTook.Seconds(), p99(createLat))

	tokens, ids, err := runningBots(ctx, st, 1000)
	if err != nil {
		return APIResult{}, err
	}
	beatLat, beatTook := load(workers, 0, beatFor, func(i int) error {
		j := i % len(tokens)
		return post(client, base+botproto.PathHeartbeat, []byte("{}"), "Authorization", "Bearer "+tokens[j],
			botproto.HeaderBotID, ids[j].String())
	})
	fmt.Printf("%d heartbeats in %s: %.0f/s, p99 %.1f ms\n", len(beatLat), beatTook.Round(time.Millisecond),
		float64(len(beatLat))/beatTook.Seconds(), p99(beatLat))
	return APIResult{Creates: creates, CreatesPerSecond: float64(creates) / createTook.Seconds(), CreateP99Ms: p99(createLat),
		Heartbeats: len(beatLat), HeartbeatsPerSec: float64(len(beatLat)) / beatTook.Seconds(), HeartbeatP99Ms: p99(beatLat),
		ConcurrentRequests: workers}, nil
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
