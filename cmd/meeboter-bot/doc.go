// Command meeboter-bot is the reference bot agent for the Meeboter
// bot<->controller protocol (package botproto).
//
// It owns only a simulated meeting (package botsim, which also runs bots
// in-process for platform simulators): with --simulate it fetches its
// config, heartbeats, and walks JOINING_CALL -> [IN_WAITING_ROOM] ->
// IN_CALL -> LEAVING -> DONE without a browser, so the controller can be
// exercised end to end. It can also misbehave on purpose (crash at a
// phase, ignore leave requests, skip heartbeats, exit non-zero), driven by
// flags, SIM_* environment variables, or per bot through the "simulate"
// object in the bot's metadata, which wins over both. Real meeting-platform
// bots are built elsewhere.
//
// With BOT_ID in its environment it plays that one bot and exits. On a
// Coolify pool slot (POOL_SLOT_UUID and POOL_SLOT_TOKEN instead) it asks
// the controller for assignments and plays them one after another,
// never exiting on its own. SIGTERM or an interrupt makes it report
// LEAVING/DONE for a meeting in progress and exit 0.
package main
