// Package api serves Meeboter's HTTP interfaces: the user API under /api/v1
// (API-key auth, tenant-scoped, documented in openapi.yaml, which is served
// and tested), the bot API under /bot/v1 (per-attempt bearer tokens) and the
// health endpoints. Errors are application/problem+json naming the field.
// Handlers validate everything before writing; bad input writes nothing.
package api
