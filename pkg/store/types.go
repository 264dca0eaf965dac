package store

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Status is what a user sees of a bot.
type Status string

// Bot statuses, in lifecycle order. DONE and FATAL are absorbing.
const (
	StatusScheduled     Status = "SCHEDULED"
	StatusQueued        Status = "QUEUED"
	StatusDeploying     Status = "DEPLOYING"
	StatusReady         Status = "READY" // up and prepared, waiting for join_at
	StatusJoiningCall   Status = "JOINING_CALL"
	StatusInWaitingRoom Status = "IN_WAITING_ROOM"
	StatusInCall        Status = "IN_CALL"
	StatusLeaving       Status = "LEAVING"
	StatusDone          Status = "DONE"
	StatusFatal         Status = "FATAL"
)

// Terminal reports whether nothing may move a bot out of s.
func (s Status) Terminal() bool { return s == StatusDone || s == StatusFatal }

// Running reports whether a bot in s has reported meeting progress, so its
// liveness is judged by heartbeats rather than by the deploy deadline.
func (s Status) Running() bool {
	switch s {
	case StatusReady, StatusJoiningCall, StatusInWaitingRoom, StatusInCall, StatusLeaving:
		return true
	}
	return false
}

// Statuses lists every status.
func Statuses() []Status {
	return []Status{StatusScheduled, StatusQueued, StatusDeploying, StatusReady, StatusJoiningCall, StatusInWaitingRoom,
		StatusInCall, StatusLeaving, StatusDone, StatusFatal}
}

// Desired is what the API asks for.
type Desired string

// Desired states.
const (
	DesiredRunning Desired = "RUNNING"
	DesiredStopped Desired = "STOPPED"
)

// StopMode says how a stop was asked for: leave lets the bot leave the call and
// finish (bounded by the leave deadline); cancel stops the workload at once.
type StopMode string

// Stop modes.
const (
	StopLeave  StopMode = "leave"
	StopCancel StopMode = "cancel"
)

// Reasons are the machine codes in bots.status_reason.
const (
	ReasonCompleted       = "completed"
	ReasonCancelled       = "cancelled"
	ReasonRemoved         = "removed"
	ReasonHeartbeat       = "heartbeat_timeout"
	ReasonDeployTimeout   = "deploy_timeout"
	ReasonQueueTimeout    = "queue_timeout"
	ReasonLeaveTimeout    = "leave_timeout"
	ReasonMaxLifetime     = "max_lifetime"
	ReasonContainerExited = "container_exited"
	// ReasonContainerRestarted ends a bot in the call whose container
	// started again (Docker's restart policy): its meeting session is gone.
	ReasonContainerRestarted = "container_restarted"
	ReasonPlatformError      = "platform_error"
	ReasonBotFatal           = "bot_fatal"
	// ReasonRecordingMissing ends a recording bot that reported DONE without
	// a verified upload: DONE promises the recording exists.
	ReasonRecordingMissing = "recording_missing"
)

// DeploymentState is the controller's record of one attempt's workload.
type DeploymentState string

// Deployment states. The row is written before the side effect it records.
const (
	DeploymentPending  DeploymentState = "PENDING"
	DeploymentCreating DeploymentState = "CREATING"
	DeploymentRunning  DeploymentState = "RUNNING"
	DeploymentStopping DeploymentState = "STOPPING"
	DeploymentGone     DeploymentState = "GONE"
)

// Observed values written by observers onto deployments.observed.
const (
	ObservedPending  = "pending"
	ObservedRunning  = "running"
	ObservedStopping = "stopping" // ending; still counts against capacity
	ObservedExited   = "exited"
	ObservedMissing  = "missing"
)

// AutomaticLeave holds the bot's own leave rules, in seconds.
type AutomaticLeave struct {
	WaitingRoomTimeoutSeconds  int `json:"waiting_room_timeout_seconds"`
	NooneJoinedTimeoutSeconds  int `json:"noone_joined_timeout_seconds"`
	EveryoneLeftTimeoutSeconds int `json:"everyone_left_timeout_seconds"`
	InactivityTimeoutSeconds   int `json:"inactivity_timeout_seconds"`
}

// Recording says whether and how the bot records.
type Recording struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode"`
}

// Bot is one row of bots.
type Bot struct {
	ID                 uuid.UUID       `db:"id"`
	Owner              string          `db:"owner"`
	MeetingURL         string          `db:"meeting_url"`
	MeetingPlatform    string          `db:"meeting_platform"`
	BotName            string          `db:"bot_name"`
	JoinAt             *time.Time      `db:"join_at"`
	AutomaticLeave     AutomaticLeave  `db:"automatic_leave"`
	Recording          Recording       `db:"recording"`
	Metadata           json.RawMessage `db:"metadata"`
	CallbackURL        *string         `db:"callback_url"`
	Desired            Desired         `db:"desired"`
	StopMode           *StopMode       `db:"stop_mode"`
	StopRequestedAt    *time.Time      `db:"stop_requested_at"`
	Generation         int64           `db:"generation"`
	Revision           int64           `db:"revision"`
	Status             Status          `db:"status"`
	StatusReason       *string         `db:"status_reason"`
	ObservedGeneration int64           `db:"observed_generation"`
	Platform           *string         `db:"platform"`
	CurrentAttempt     int             `db:"current_attempt"`
	LastHeartbeatAt    *time.Time      `db:"last_heartbeat_at"`
	RecordingKey       *string         `db:"recording_key"`
	RecordingSize      *int64          `db:"recording_size_bytes"`
	RecordingUploaded  *time.Time      `db:"recording_uploaded_at"`
	NextCheckAt        *time.Time      `db:"next_check_at"`
	CreatedAt          time.Time       `db:"created_at"`
	UpdatedAt          time.Time       `db:"updated_at"`
	QueuedAt           *time.Time      `db:"queued_at"`
	DeployStartedAt    *time.Time      `db:"deploy_started_at"`
	JoinedAt           *time.Time      `db:"joined_at"`
	EnteredAt          *time.Time      `db:"entered_at"`
	// MaxDurationSeconds, when set, bounds the bot's stay (see LeaveAt).
	MaxDurationSeconds *int `db:"max_duration_seconds"`
	// The capacity reserved for a scheduled bot: platform and window.
	ReservedPlatform *string    `db:"reserved_platform"`
	ReservedFrom     *time.Time `db:"reserved_from"`
	ReservedUntil    *time.Time `db:"reserved_until"`
	EndedAt          *time.Time `db:"ended_at"`
}

// Deployment is one attempt to run a bot.
type Deployment struct {
	BotID      uuid.UUID       `db:"bot_id"`
	Attempt    int             `db:"attempt"`
	Platform   string          `db:"platform"`
	Name       string          `db:"name"`
	ExternalID *string         `db:"external_id"`
	TokenHash  []byte          `db:"token_hash"`
	State      DeploymentState `db:"state"`
	Observed   *string         `db:"observed"`
	ObservedAt *time.Time      `db:"observed_at"`
	ExitCode   *int            `db:"exit_code"`
	LastError  *string         `db:"last_error"`
	ErrorCount int             `db:"error_count"`
	CreatedAt  time.Time       `db:"created_at"`
	UpdatedAt  time.Time       `db:"updated_at"`
	// Warm is an attempt placed on an existing idle pool slot.
	Warm bool `db:"warm"`
	// PendingToken is the attempt's bot token while the workload may not
	// have received it yet (every create retry gives the same one).
	PendingToken *string `db:"pending_token"`
	// CreateTry is bumped after a definite failure that created nothing.
	CreateTry int `db:"create_try"`
	// RetryAt is when a failed or capacity-refused create may run again.
	RetryAt *time.Time `db:"retry_at"`
	// ProgressAt is the last time the platform reported the workload
	// progressing (pending or starting).
	ProgressAt *time.Time `db:"progress_at"`
	// StopRequestedAt is when the current stop was asked for.
	StopRequestedAt *time.Time `db:"stop_requested_at"`
	// MovedAt is when the attempt last moved platform for capacity.
	MovedAt *time.Time `db:"moved_at"`
	// ReadyAt is when the attempt's bot first reported.
	ReadyAt *time.Time `db:"ready_at"`
}

// Live reports whether the deployment may still have a workload.
func (d Deployment) Live() bool { return d.State != DeploymentGone }

// Event is one entry of a bot's timeline.
type Event struct {
	ID         int64           `db:"id"`
	BotID      uuid.UUID       `db:"bot_id"`
	Type       string          `db:"type"`
	Data       json.RawMessage `db:"data"`
	OccurredAt time.Time       `db:"occurred_at"`
	CreatedAt  time.Time       `db:"created_at"`
	// Source is SourceController or SourceBot (a bot's claim); Attempt is
	// the attempt that claimed a bot event (nil for the controller's).
	Source  string `db:"source"`
	Attempt *int   `db:"attempt"`
}

// APIKey is a tenant's key; only its hash is stored.
type APIKey struct {
	ID        uuid.UUID  `db:"id"`
	Owner     string     `db:"owner"`
	Name      string     `db:"name"`
	Prefix    string     `db:"prefix"`
	CreatedAt time.Time  `db:"created_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

// Errors callers branch on.
var (
	ErrNotFound        = errors.New("not found")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrStaleAttempt    = errors.New("stale attempt")
	ErrConflict        = errors.New("conflict")
)

// DeploymentName is the deterministic workload name (and client token) of one
// attempt: a crash between "create" and "record" is adopted by this name.
func DeploymentName(botID uuid.UUID, attempt int) string {
	return "meeboter-" + botID.String() + "-" + strconv.Itoa(attempt)
}

// LeaveAt is when a deployed bot is told to leave: maxLifetime after its
// deploy start, or its max duration after its join_at (its deploy start
// without one), whichever comes first; false before it is deployed.
func LeaveAt(deployStartedAt, joinAt *time.Time, maxDurationSeconds *int, maxLifetime time.Duration) (time.Time, bool) {
	if deployStartedAt == nil {
		return time.Time{}, false
	}
	at := deployStartedAt.Add(maxLifetime)
	if maxDurationSeconds != nil {
		from := *deployStartedAt
		if joinAt != nil && joinAt.After(from) {
			from = *joinAt
		}
		at = minTime(at, from.Add(time.Duration(*maxDurationSeconds)*time.Second))
	}
	return at, true
}

// LeaveAt is LeaveAt of b.
func (b Bot) LeaveAt(maxLifetime time.Duration) (time.Time, bool) {
	return LeaveAt(b.DeployStartedAt, b.JoinAt, b.MaxDurationSeconds, maxLifetime)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
