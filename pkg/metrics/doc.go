// Package metrics is Meeboter's Prometheus instrumentation: every family is
// meeboter_-prefixed, counters end in _total, durations are in seconds.
//
// Two kinds of figures live here. Events (reconciles, platform API calls,
// deadline expiries, webhook deliveries…) are counters and histograms that
// the code increments as they happen, per replica. State (bots by status,
// pool slots, the queue, River's jobs, who leads) is read from Postgres by
// one collector, in one round trip, and cached for a few seconds: a scrape
// never runs a query per series, and many Prometheus servers scraping many
// replicas cost the database one small batch per replica per cache period.
package metrics
