// Package coolify is a typed client for the few Coolify REST API v1 calls
// Meeboter's controller makes to run bots as Coolify docker-image
// applications:
//
//	POST   /applications/dockerimage            CreateApplication
//	GET    /applications/{uuid}                 GetApplication
//	GET    /applications?tag=                   ListApplications
//	PATCH  /applications/{uuid}                 UpdateApplication
//	DELETE /applications/{uuid}                 DeleteApplication
//	PATCH  /applications/{uuid}/envs/bulk       SetEnvs
//	POST   /applications/{uuid}/start           StartApplication
//	POST   /applications/{uuid}/stop            StopApplication
//	GET    /deployments/applications/{uuid}     Deployments
//
// The contract is ../shared/reference/coolify-api.md: what Coolify 4.x does,
// read from its source, which is not always what its OpenAPI file says. The
// tests validate every request and response against that file
// (testdata/coolify-openapi.json) with each place where Coolify departs from
// it patched in: hack/devenv/coolifyspec.Deviations, one table shared with the
// simulator's tests (coolifysim).
//
// Coolify is eventually consistent and asynchronous: start, stop and delete
// only queue jobs, and an application's status lags by a minute or two. The
// client does not hide that; it reports what Coolify said, and the
// controller reconciles.
//
// # Rate limits and retries
//
// Coolify throttles each user to 200 requests a minute by default. All calls
// of a Client draw from one token bucket (Config.RatePerMinute, default 150).
// A 429 pauses the whole client for its Retry-After, so concurrent callers
// back off together instead of each collecting its own 429. When a wait for
// the bucket or a pause would outlast the caller's context deadline, the call
// fails at once with a 429 *APIError carrying RetryAfter, so a reconcile job
// can snooze rather than hold a worker.
//
// A 429 is retried for every call, since Coolify throttles before doing
// anything. A 5xx or a transport error is retried, with jittered exponential
// backoff, only for calls that are safe to repeat (get, list, update, delete,
// set envs, stop, deployments): a create or start that failed that way may
// have happened, and repeating it could make a second application or
// deployment. Those errors go to the caller, which adopts by name or tag, or
// reads Deployments.
//
// # Errors
//
// A non-2xx answer is an *APIError; IsNotFound, IsUnauthorized, IsConflict,
// IsValidation, IsRateLimited and IsServerError classify it. The API token is
// never part of an error or of the client's String.
package coolify
