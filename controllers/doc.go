// Package controllers wires the reconcilers together: the River client (the
// reconcile and webhook workers, and the job enqueuer the store uses inside
// its transactions), the replica's database session, the leader election and
// the leader's loops (admission, resync, observers, GC, the pool, the sweeper
// of dead replicas' jobs), and shutdown. It is the only place that builds a
// River client.
package controllers
