// Package store owns every SQL statement of Meeboter: the schema migrations,
// the row types (bots, deployments, events, API keys) and the transactions that
// change them. Nothing outside this package writes SQL.
//
// Every write that must wake a bot's reconciler bumps bots.revision and
// enqueues the reconcile job in the same transaction (through Enqueuer), so an
// accepted change is never lost. Every terminal write goes through FinishBot.
package store
