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
// Errors are application/problem+json (Problem). 4xx answers are final;
// transport errors, 429 and 5xx are retried with jittered exponential
// backoff because the controller may be restarting.
package botproto
