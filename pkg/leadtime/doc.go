// Package leadtime knows how long each deployment platform takes to make a
// bot ready (from "create" to the bot's first report), from the platform's
// own recent deployments: a scheduled bot is admitted that long before its
// join_at, so it enters on time. A platform with too few samples uses its
// configured floor; the estimate never goes below the floor.
package leadtime
