package observer

import (
	"time"

	"github.com/meeboter/meeboter/pkg/store"
)

// Defaults of Freshness.
const (
	DefaultSilence      = 30 * time.Second // three beats of the default BOT_HEARTBEAT_INTERVAL
	DefaultMaxStaleness = 5 * time.Minute
)

// Freshness says when the observer of a Describer platform reads a
// workload again: what the bot itself says makes most reads unnecessary.
type Freshness struct {
	// Silence: a running workload whose bot has not beaten for this long
	// is read (a few heartbeat intervals: one late beat is no news).
	Silence time.Duration
	// MaxStaleness: a workload not read for this long is read however
	// well its bot beats, so the platform's word is confirmed now and then.
	MaxStaleness time.Duration
}

// Read is what a pass must do to learn a workload's state.
type Read int

// Reads.
const (
	// ReadNone: nothing a read could say would be written, or the bot's
	// heartbeats vouch for the workload.
	ReadNone Read = iota
	// ReadDescribe: read the workload by its external id.
	ReadDescribe
	// ReadList: the workload has no external id; only a complete list
	// proves it absent.
	ReadList
)

// NeedsRead decides whether d's workload must be read in this pass: yes
// while it is not seen running (created, starting, stopping, missing), when
// its bot has been silent for Silence, and when it was last read (or seen
// to change) MaxStaleness ago; lastRead is zero when this observer never
// read it. A bot beating on time with its workload seen running costs no
// platform call.
func NeedsRead(d store.ObservedDeployment, lastRead, now time.Time, f Freshness) Read {
	if d.ObservedAt != nil && d.ObservedAt.After(lastRead) {
		lastRead = *d.ObservedAt
	}
	hasID := d.ExternalID != nil && *d.ExternalID != ""
	switch {
	case d.State == store.DeploymentPending:
		return ReadNone // nothing created yet
	case d.Observed != nil && *d.Observed == store.ObservedExited:
		return ReadNone // an ended attempt stays ended: nothing a read says is written
	case !hasID && d.State == store.DeploymentStopping:
		return ReadList // stopping a workload whose create answer was lost: gone only if not listed
	case !hasID:
		// Being created: the reconciler decides from the create, not from
		// observations (MarkRunning discards them), so it waits for the id.
		return ReadNone
	case d.State != store.DeploymentRunning,
		d.Observed == nil || *d.Observed != store.ObservedRunning,
		d.LastHeartbeatAt == nil || now.Sub(*d.LastHeartbeatAt) >= f.Silence,
		now.Sub(lastRead) >= f.MaxStaleness:
		return ReadDescribe
	}
	return ReadNone
}
