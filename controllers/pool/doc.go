// Package pool owns the Coolify slot pool: reusable applications typed by
// meeting platform and spec. Each pass reads every slot application with one
// list call and moves each slot one step: create reserved slots, start
// claimed ones (at most MaxConcurrentStarts at once, counted in the
// database), stop released ones and return them to IDLE when observed
// exited, retry and then replace ERROR slots, converge spec drift on idle
// slots, scale idle slots down after a TTL, keep a minimum idle, and delete
// orphan applications — only after a complete, successful list.
//
// Bots claim and release slots through the store (the coolify platform's
// Create and Stop); this controller is the only one that calls Coolify for
// slots.
package pool
