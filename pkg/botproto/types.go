package botproto

import (
	"fmt"
	"time"
)

// Environment variables a bot process is started with.
const (
	EnvBotID           = "BOT_ID"
	EnvMeetingURL      = "MEETING_URL"
	EnvMeetingPlatform = "MEETING_PLATFORM"
	EnvBotName         = "BOT_NAME"
	EnvCallbackURL     = "API_CALLBACK_URL"
	EnvRecordingMode   = "RECORDING_MODE"
	// EnvAuthToken is a per-attempt secret; never log it.
	EnvAuthToken = "MILO_AUTH_TOKEN"
)

// Environment variables a pool-slot container is started with instead of
// EnvBotID and EnvAuthToken (plus EnvCallbackURL). The slot learns its
// bot, and that bot's per-attempt token, from PathAssignment.
const (
	EnvPoolSlotUUID = "POOL_SLOT_UUID"
	// EnvPoolSlotToken is the slot's long-lived secret; never log it.
	EnvPoolSlotToken = "POOL_SLOT_TOKEN"
)

// HeaderBotID carries the bot id on every request so the controller can
// reject a token presented for the wrong bot (403).
const HeaderBotID = "X-Bot-Id"

// HeaderPoolSlot carries the slot UUID on assignment requests, which are
// authenticated with the slot token instead of a per-attempt token.
const HeaderPoolSlot = "X-Pool-Slot"

// Endpoint paths, relative to the callback base URL.
const (
	PathConfig    = "/bot/v1/config"
	PathHeartbeat = "/bot/v1/heartbeat"
	PathStatus    = "/bot/v1/status"
	PathEvents    = "/bot/v1/events"
	// PathRecording hands out a presigned PUT URL for the attempt's one
	// recording upload key; PathRecordingComplete has the controller verify
	// it and seal a copy users download (see RecordingStored).
	PathRecording         = "/bot/v1/recording"
	PathRecordingComplete = "/bot/v1/recording/complete"
	// PathAssignment is asked by a pool slot (slot token + HeaderPoolSlot),
	// not by a bot attempt.
	PathAssignment = "/bot/v1/assignment"
)

// Meeting platforms (Config.MeetingPlatform).
const (
	PlatformZoom       = "zoom"
	PlatformTeams      = "microsoft-teams"
	PlatformGoogleMeet = "google-meet"
)

// Recording modes (Recording.Mode).
const (
	RecordingAudio = "audio"
	RecordingVideo = "video"
)

// Event types (Event.Type).
const (
	EventParticipantJoin  = "PARTICIPANT_JOIN"
	EventParticipantLeave = "PARTICIPANT_LEAVE"
)

// Status is a bot lifecycle state as reported by the bot.
type Status string

// Bot statuses, in the order a healthy bot reports them.
const (
	// StatusReady: started and prepared, waiting for Config.JoinAt to enter
	// the meeting (only a bot with a JoinAt ahead reports it).
	StatusReady         Status = "READY"
	StatusJoiningCall   Status = "JOINING_CALL"
	StatusInWaitingRoom Status = "IN_WAITING_ROOM"
	StatusInCall        Status = "IN_CALL"
	StatusLeaving       Status = "LEAVING"
	StatusDone          Status = "DONE"
	StatusFatal         Status = "FATAL"
)

// Valid reports whether s is one of the protocol's statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusReady, StatusJoiningCall, StatusInWaitingRoom, StatusInCall,
		StatusLeaving, StatusDone, StatusFatal:
		return true
	}
	return false
}

// Terminal reports whether no further transition is allowed after s.
func (s Status) Terminal() bool { return s == StatusDone || s == StatusFatal }

// Config is the per-attempt bot configuration served at PathConfig.
type Config struct {
	BotID                    string         `json:"bot_id"`
	Attempt                  int            `json:"attempt"`
	MeetingURL               string         `json:"meeting_url"`
	MeetingPlatform          string         `json:"meeting_platform"`
	BotName                  string         `json:"bot_name"`
	AutomaticLeave           AutomaticLeave `json:"automatic_leave"`
	Recording                Recording      `json:"recording"`
	Metadata                 map[string]any `json:"metadata"`
	HeartbeatIntervalSeconds int            `json:"heartbeat_interval_seconds"`
	// JoinAt is when the meeting is to be entered; nil means at once. A bot
	// started before it prepares, reports READY, keeps heart-beating and
	// reports JOINING_CALL at JoinAt, not before.
	JoinAt *time.Time `json:"join_at,omitempty"`
	// LeaveAt is the hard end of the bot's lifetime; nil means no limit.
	LeaveAt *time.Time `json:"leave_at,omitempty"`
	// ShouldExit tells a restarted bot that its work is already over: it
	// must exit 0 without reporting anything.
	ShouldExit bool   `json:"should_exit"`
	ExitReason string `json:"exit_reason"`
}

// HeartbeatInterval returns HeartbeatIntervalSeconds as a Duration.
func (c *Config) HeartbeatInterval() time.Duration {
	return time.Duration(c.HeartbeatIntervalSeconds) * time.Second
}

// Assignment answers PathAssignment. When Assigned, the slot runs the
// meeting exactly as a BOT_ID container would, authenticating every
// further call with BotID and the per-attempt Token; Config is what
// PathConfig would answer. When not, there is nothing to do: ask again
// after RetryAfterSeconds (the client's default when zero).
type Assignment struct {
	Assigned bool   `json:"assigned"`
	BotID    string `json:"bot_id,omitempty"`
	// Token is a per-attempt secret; never log it.
	Token             string  `json:"token,omitempty"`
	Config            *Config `json:"config,omitempty"`
	RetryAfterSeconds int     `json:"retry_after_seconds,omitempty"`
}

// RetryAfter returns RetryAfterSeconds as a Duration, or def when the
// controller gave none.
func (a *Assignment) RetryAfter(def time.Duration) time.Duration {
	if a.RetryAfterSeconds <= 0 {
		return def
	}
	return time.Duration(a.RetryAfterSeconds) * time.Second
}

// AutomaticLeave holds the timeouts after which a bot leaves on its own.
type AutomaticLeave struct {
	WaitingRoomTimeoutSeconds  int `json:"waiting_room_timeout_seconds"`
	NooneJoinedTimeoutSeconds  int `json:"noone_joined_timeout_seconds"`
	EveryoneLeftTimeoutSeconds int `json:"everyone_left_timeout_seconds"`
	InactivityTimeoutSeconds   int `json:"inactivity_timeout_seconds"`
}

// Recording says whether and what the bot records.
type Recording struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode"`
}

// HeartbeatResponse answers a heartbeat; ShouldLeave asks the bot to leave.
type HeartbeatResponse struct {
	ShouldLeave bool   `json:"should_leave"`
	Status      Status `json:"status"`
}

// StatusRequest reports a lifecycle transition.
type StatusRequest struct {
	Status Status `json:"status"`
	// Reason is a machine-readable code, e.g. "meeting_not_found".
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StatusResponse carries the status the controller holds after the report.
type StatusResponse struct {
	Status Status `json:"status"`
}

// Event is something observed in the meeting. Type must match
// [A-Z][A-Z0-9_]{0,63} and not be one of ControllerEventTypes. OccurredAt is
// clamped to the attempt's lifetime: never before its deployment was created,
// never after the controller received it (zero means now).
type Event struct {
	Type       string         `json:"type"`
	OccurredAt time.Time      `json:"occurred_at"`
	Data       map[string]any `json:"data"`
}

// EventsRequest is the body of PathEvents.
type EventsRequest struct {
	Events []Event `json:"events"`
}

// RecordingRequest asks for an upload URL. Format is a file extension (mp4,
// webm, m4a, ogg); empty picks the meeting platform's default.
type RecordingRequest struct {
	Format string `json:"format,omitempty"`
}

// RecordingUpload is where to upload: PUT the file's bytes to URL before
// ExpiresAt (RECORDING_UPLOAD_URL_TTL, 15 min by default: ask just before
// uploading, and ask again if it expired). It grants nothing else: no other
// key, no read, no listing. Key is the upload key, to send to
// PathRecordingComplete.
type RecordingUpload struct {
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	Key         string    `json:"key"`
	ContentType string    `json:"content_type"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// RecordingComplete tells the controller the upload of Key finished.
type RecordingComplete struct {
	Key string `json:"key"`
}

// RecordingStored is the verified recording. Key is the sealed copy users
// download, not the upload key: once stored, nothing the bot uploads changes
// it, and completing again returns the same answer.
type RecordingStored struct {
	Key       string `json:"key"`
	SizeBytes int64  `json:"size_bytes"`
}

// EventsResponse says how many events the controller stored.
type EventsResponse struct {
	Accepted int `json:"accepted"`
}

// Problem is an RFC 9457 application/problem+json error body. The client
// returns every non-2xx answer as a *Problem, so callers can branch on
// Status with errors.As.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (p *Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s", p.Status, p.Title)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

// Temporary reports whether the request may succeed if retried unchanged:
// the controller is overloaded (429) or failing/restarting (5xx).
func (p *Problem) Temporary() bool {
	return p.Status == 429 || p.Status >= 500
}
