// Package botsim is the simulated Meeboter bot: it plays a whole meeting
// against the controller's bot protocol (package botproto) without a
// browser — fetch config, heartbeat, JOINING_CALL -> [IN_WAITING_ROOM] ->
// IN_CALL -> LEAVING -> DONE — and can misbehave on purpose (crash at a
// phase, ignore leave requests, skip heartbeats, exit non-zero), driven by
// Settings and, per bot, by the "simulate" object in the bot's metadata,
// which wins.
//
// The meeboter-bot command is a thin main over Run. Platform simulators
// run bots in-process with RunWithEnv, giving each the environment a
// container would get; nothing here touches global state, calls os.Exit
// or handles signals, so thousands of bots can share one process.
//
// Two modes, chosen from the environment:
//
//   - BOT_ID (with MILO_AUTH_TOKEN, API_CALLBACK_URL): one bot attempt.
//     Simulator plays its meeting once and the exit code says how it went.
//   - POOL_SLOT_UUID (with POOL_SLOT_TOKEN, API_CALLBACK_URL): a Coolify
//     pool slot. PoolSlot asks GET /bot/v1/assignment, plays each assigned
//     meeting with that attempt's token, and goes back to asking. It never
//     stops on its own (a container that exits is restarted, and Coolify
//     deletes an app after ten restarts): bad slot credentials are retried
//     with backoff, should_exit only ends the assignment.
//
// Cancelling the context is the container being stopped: a meeting in
// progress says goodbye (LEAVING, DONE) best effort within a short
// timeout, and Run returns.
package botsim
