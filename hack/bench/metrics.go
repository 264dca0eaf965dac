package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meeboter/meeboter/pkg/metrics"
)

// MetricsResult is what one /metrics scrape costs with many bots in the
// database.
type MetricsResult struct {
	Bots             int     `json:"bots"`
	Series           int     `json:"series"`
	Bytes            int     `json:"bytes"`
	ColdScrapeMillis float64 `json:"cold_scrape_ms"` // the snapshot is read from Postgres
	WarmScrapeMillis float64 `json:"warm_scrape_ms"` // served from the cached snapshot
}

// measureMetrics adds n bots across every status and platform, then times
// scrapes of m (the registry the load run filled): one that reads the
// database snapshot, and the median of 20 that hit the cache.
func measureMetrics(ctx context.Context, pool *pgxpool.Pool, n int, m *metrics.Metrics) (MetricsResult, error) {
	if _, err := pool.Exec(ctx, `INSERT INTO bots (id, owner, meeting_url, meeting_platform, bot_name, automatic_leave,
			recording, status, status_reason, platform, created_at, updated_at, queued_at, ended_at)
		SELECT gen_random_uuid(), 'metrics-bench', 'https://meet.google.com/abc-defg-hij',
			(ARRAY['zoom','microsoft-teams','google-meet'])[1 + i % 3], 'b', '{}', '{"enabled":false,"mode":"none"}',
			s.status, CASE WHEN s.status IN ('DONE','FATAL') THEN 'completed' END,
			CASE WHEN s.status IN ('SCHEDULED','QUEUED') THEN NULL ELSE (ARRAY['local','coolify','aws'])[1 + i % 3] END,
			now(), now(), now() - interval '1 minute', CASE WHEN s.status IN ('DONE','FATAL') THEN now() END
		FROM generate_series(1, $1) AS i,
			LATERAL (SELECT (ARRAY['SCHEDULED','QUEUED','DEPLOYING','JOINING_CALL','IN_WAITING_ROOM','IN_CALL',
				'LEAVING','DONE','FATAL'])[1 + i % 9] AS status) s`, n); err != nil {
		return MetricsResult{}, err
	}
	res := MetricsResult{}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM bots`).Scan(&res.Bots); err != nil {
		return res, err
	}
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	var body string
	took, err := timeScrape(ctx, srv.URL, &body)
	if err != nil {
		return res, err
	}
	res.ColdScrapeMillis = ms(took)
	var warm []time.Duration
	for range 20 {
		d, err := timeScrape(ctx, srv.URL, &body)
		if err != nil {
			return res, err
		}
		warm = append(warm, d)
	}
	res.WarmScrapeMillis = ms(median(warm))
	res.Bytes = len(body)
	for _, line := range strings.Split(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			res.Series++
		}
	}
	return res, nil
}

func timeScrape(ctx context.Context, url string, body *string) (time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	*body = string(b)
	return time.Since(start), err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
