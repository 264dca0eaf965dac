package platform

import (
	"errors"
	"strings"
	"time"
)

// SlotApp is a pool slot's application as a slot driver lists it: the pool
// controller works on these shapes, the driver (Coolify's) makes them.
type SlotApp struct {
	UUID      string
	Name      string
	Status    string // "state:health", as Coolify reports it
	CreatedAt time.Time
}

// State is the container state part of Status ("running", "exited", …).
func (a SlotApp) State() string {
	state, _, _ := strings.Cut(a.Status, ":")
	return state
}

// SlotSpec is what a slot application should be.
type SlotSpec struct {
	Name, Description string
	Image, Tag        string
	LimitsCPUs        string
	LimitsMemory      string
}

// ErrSlotStartUnknown marks a slot start that may have happened though it
// failed (a 5xx, a lost answer).
var ErrSlotStartUnknown = errors.New("platform: the slot start may have happened")
