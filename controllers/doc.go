// Package controllers wires the reconcilers to River: the reconcile, admit,
// resync, observe and gc workers, the periodic (leader-only) jobs, the job
// enqueuer the store uses inside its transactions, and shutdown. It is the
// only place that builds a River client.
package controllers
