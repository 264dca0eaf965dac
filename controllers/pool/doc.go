// Package pool owns the Coolify slot pool: reusable applications typed by
// meeting platform and spec. A full pass reads every slot application with
// one list call (a quick pass between two lists reads nothing) and moves
// each slot one step: create reserved slots, start
// claimed ones (at most MaxConcurrentStarts at once, counted in the
// database), stop released ones and return them to IDLE when observed
// exited, retry and then replace ERROR slots, converge spec drift on idle
// slots, scale idle slots down after a TTL, keep a minimum idle, and delete
// orphan applications — only after a complete, successful list.
//
// Bots claim and release slots in the database through SlotPlatform (the
// platform.Platform of the pool: its Create claims, its Stop releases); the
// pool controller is the only one that calls the driver (SlotApps) for
// slots.
package pool
