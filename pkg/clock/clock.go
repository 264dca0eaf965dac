// Package clock is the house's one time convention: whatever reads the time
// takes a Clock, so tests drive it with hack/devenv/fakeclock instead of
// sleeping.
package clock

import "time"

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Wall is the real clock.
type Wall struct{}

// Now implements Clock.
func (Wall) Now() time.Time { return time.Now() }
