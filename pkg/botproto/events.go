package botproto

import "slices"

// ControllerEventTypes are the timeline event types the controller writes.
// A bot may not post them (422): a user must never read a bot's claim as the
// controller's record. Every event a bot posts is shown with source "bot".
var ControllerEventTypes = []string{
	"SCHEDULED", "QUEUED", "DEPLOYING", "READY", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING", "DONE", "FATAL",
	"STOP_REQUESTED", "RECORDING_UPLOADED", "WEBHOOK_DELIVERY", "CONTAINER_RESTARTED", "RESTARTING",
	"PLATFORM_FALLBACK", "UPDATED",
}

// ControllerEventType reports whether t is a type only the controller writes.
func ControllerEventType(t string) bool { return slices.Contains(ControllerEventTypes, t) }
