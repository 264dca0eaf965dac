// Package operatorui serves the River UI (riverqueue.com/riverui) for the
// operator, on the METRICS_ADDR listener beside /metrics: behind the
// operator's token (HTTP Basic or Bearer) and read-only unless configured
// otherwise. It never runs on the API port, where tenants are.
package operatorui
