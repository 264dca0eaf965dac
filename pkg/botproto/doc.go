// Package botproto owns the bot side of the bot<->controller wire protocol:
// the JSON request/response types, the status and event vocabulary, the
// environment and header names a bot process is started with, and a small
// retrying HTTP client for it.
//
// The controller imports the same types, so they are deliberately plain
// structs whose JSON tags are the protocol; changing a tag is a breaking
// protocol change. The protocol in brief, all under the callback base URL
// and all authenticated with "Authorization: Bearer <MILO_AUTH_TOKEN>" plus
// "X-Bot-Id: <BOT_ID>":
//
//	GET  /bot/v1/config     -> Config
//	POST /bot/v1/heartbeat  {} -> HeartbeatResponse
//	POST /bot/v1/status     StatusRequest -> StatusResponse
//	POST /bot/v1/events     EventsRequest -> EventsResponse
//	POST /bot/v1/recording  RecordingRequest -> RecordingUpload
//	POST /bot/v1/recording/complete  RecordingComplete -> RecordingStored
//
// A Coolify pool slot is started without BOT_ID and MILO_AUTH_TOKEN; it has
// POOL_SLOT_UUID and POOL_SLOT_TOKEN instead and asks, with
// "Authorization: Bearer <POOL_SLOT_TOKEN>" plus "X-Pool-Slot: <uuid>",
//
//	GET  /bot/v1/assignment -> Assignment
//
// which either hands it a bot id, that attempt's token and its Config, or
// tells it to ask again later (SlotClient).
//
// Scheduled bots: Config.JoinAt is when the meeting is to be entered. A bot
// started before it (the controller starts a scheduled bot a lead time
// early, long enough for the platform to pull its image and start it) does
// its preparation at once, reports READY, keeps heart-beating and reports
// JOINING_CALL at JoinAt, not before; told to leave while it waits, it
// reports DONE without entering. A bot started at or after JoinAt, or with
// no JoinAt, enters at once. Its lateness (JOINING_CALL minus JoinAt) is
// measured from when the report arrives.
//
// A container asks for its Config (or a slot for its assignment) once, when
// it starts; asking again before the bot's first status is harmless (an
// answer lost on the way: the same attempt and token come back). Asking
// again after the bot reported JOINING_CALL or later tells the controller
// the container started over (Docker restarted it after a crash), so its
// meeting session is gone: the attempt ends at once (FATAL
// container_restarted once in the call, a new attempt before it), and the
// answer is a Config with ShouldExit, or, for a slot, nothing to run.
//
// Events (PathEvents) are the bot's claims, and users see them as such:
// the timeline shows each with source "bot" and the attempt that posted it,
// beside the controller's own record (source "controller"). So that no
// claim can pass for a record, a type in ControllerEventTypes (the statuses,
// STOP_REQUESTED, RECORDING_UPLOADED, WEBHOOK_DELIVERY, ...) is refused with
// 422 (report status through PathStatus instead); OccurredAt is clamped to
// the attempt's lifetime (an earlier time becomes the attempt's creation, a
// later one the arrival; a skewed clock loses no event); and an attempt may
// post at most a bounded number of events in all (the server's
// MaxEventsPerAttempt, default 1000): a batch that does not fit is refused
// whole with 409, and retrying will not help.
//
// A token lives as long as its attempt's work. Once the bot is DONE or FATAL
// every route answers 409 ("this attempt is over and its container must
// exit"), except POST /bot/v1/recording/complete, which the recording rules
// judge; once the controller has seen the attempt's workload end
// (deployment GONE) every route, that one included, answers 410. A stale
// attempt (the bot has a newer one) is 409 as well. On any of these the
// container stops its work and exits; a finishing bot completes its upload
// before it reports DONE.
//
// Errors are application/problem+json (Problem). 4xx answers are final;
// transport errors, 429 and 5xx are retried with jittered exponential
// backoff because the controller may be restarting.
package botproto
