// Package bot owns a bot's lifecycle after the API accepted it: the
// Reconciler compares the bot's desired state with its current deployment and
// observation and takes one step at a time (queue, create, stop, retry,
// finish) until they match, and the Admitter turns queued bots into
// deployments when a platform has room. Decisions are a pure function of rows
// and the clock (Decide), so every deadline is testable with a fake clock.
package bot
