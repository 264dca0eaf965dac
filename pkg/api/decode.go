package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/meeting"
	"github.com/meeboter/meeboter/pkg/store"
)

// CreateBotRequest is the body of POST /api/v1/bots.
type CreateBotRequest struct {
	MeetingURL      string          `json:"meeting_url"`
	MeetingPlatform string          `json:"meeting_platform,omitempty"`
	BotName         *string         `json:"bot_name,omitempty"`
	JoinAt          *time.Time      `json:"join_at,omitempty"`
	AutomaticLeave  *AutomaticLeave `json:"automatic_leave,omitempty"`
	Recording       *Recording      `json:"recording,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	CallbackURL     *string         `json:"callback_url,omitempty"`
	// MaxDurationSeconds bounds the bot's stay from join_at (or its start).
	MaxDurationSeconds *int `json:"max_duration_seconds,omitempty"`
}

// AutomaticLeave is the request form of the bot's leave rules; omitted
// fields take defaults.
type AutomaticLeave struct {
	WaitingRoomTimeoutSeconds  *int `json:"waiting_room_timeout_seconds,omitempty"`
	NooneJoinedTimeoutSeconds  *int `json:"noone_joined_timeout_seconds,omitempty"`
	EveryoneLeftTimeoutSeconds *int `json:"everyone_left_timeout_seconds,omitempty"`
	InactivityTimeoutSeconds   *int `json:"inactivity_timeout_seconds,omitempty"`
}

// Recording is the request form of the recording settings.
type Recording struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode,omitempty"`
}

// Limits of a create request.
const (
	MaxBotNameLength     = 100
	MaxMetadataBytes     = 16 << 10
	MaxCallbackURLLength = 1024
	// JoinAtPastTolerance accepts a join_at slightly in the past (clock
	// skew, "now" computed client-side); older is a mistake.
	JoinAtPastTolerance = 5 * time.Minute
	MaxJoinAtAhead      = 90 * 24 * time.Hour
	DefaultBotName      = "Meeboter"
	// MinMaxDuration and MaxMaxDuration bound max_duration_seconds.
	MinMaxDuration = 10 * time.Second
	MaxMaxDuration = 24 * time.Hour
)

// leaveBounds are [default, min, max] seconds of each automatic_leave field.
var leaveBounds = map[string][3]int{
	"waiting_room_timeout_seconds":  {600, 60, 7200},
	"noone_joined_timeout_seconds":  {60, 10, 3600},
	"everyone_left_timeout_seconds": {60, 10, 3600},
	"inactivity_timeout_seconds":    {300, 60, 7200},
}

// errMalformed is a body that is not the JSON object we expect at all.
var errMalformed = errors.New("malformed JSON")

// DecodeCreateBot parses and validates a create request. It returns the bot
// to insert, or field errors (422), or errMalformed-wrapped errors (400).
func DecodeCreateBot(body []byte, owner string, now time.Time) (store.NewBot, []FieldError, error) {
	var req CreateBotRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return store.NewBot{}, nil, fmt.Errorf("%w: %s", errMalformed, err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.NewBot{}, nil, fmt.Errorf("%w: trailing data after the JSON object", errMalformed)
	}
	var fe []FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, FieldError{field, fmt.Sprintf(format, args...)})
	}
	nb := store.NewBot{Owner: owner, BotName: DefaultBotName, JoinAt: req.JoinAt, Recording: store.Recording{Mode: "none"}}
	nb.MeetingURL, nb.MeetingPlatform = validateMeeting(req, add)
	if req.BotName != nil {
		nb.BotName = validateBotName(*req.BotName, add)
	}
	validateJoinAt(req.JoinAt, now, add)
	nb.AutomaticLeave = automaticLeave(req.AutomaticLeave, add)
	if req.Recording != nil && req.Recording.Enabled {
		nb.Recording = store.Recording{Enabled: true, Mode: cmp.Or(req.Recording.Mode, "video")}
		if nb.Recording.Mode != "audio" && nb.Recording.Mode != "video" {
			add("recording.mode", "must be audio or video")
		}
	}
	nb.Metadata = validateMetadata(req.Metadata, add)
	nb.CallbackURL = validateCallback(req.CallbackURL, add)
	if d := req.MaxDurationSeconds; d != nil {
		if *d < int(MinMaxDuration.Seconds()) || *d > int(MaxMaxDuration.Seconds()) {
			add("max_duration_seconds", "must be between %d and %d", int(MinMaxDuration.Seconds()), int(MaxMaxDuration.Seconds()))
		}
		nb.MaxDurationSeconds = d
	}
	return nb, fe, nil
}

func validateMeeting(req CreateBotRequest, add func(string, string, ...any)) (string, string) {
	if strings.TrimSpace(req.MeetingURL) == "" {
		add(meeting.URLField, "is required")
		return "", ""
	}
	u, err := meeting.Resolve(req.MeetingURL, req.MeetingPlatform)
	var ue *meeting.URLError
	var pe *meeting.PlatformError
	switch {
	case errors.As(err, &ue):
		add(meeting.URLField, "%s", ue.Reason)
	case errors.As(err, &pe):
		add(meeting.PlatformField, "%s", pe.Reason)
	case err != nil:
		add(meeting.URLField, "%s", err.Error())
	}
	return u.Normalized, string(u.Platform)
}

func validateJoinAt(joinAt *time.Time, now time.Time, add func(string, string, ...any)) {
	switch {
	case joinAt == nil:
	case joinAt.Before(now.Add(-JoinAtPastTolerance)):
		add("join_at", "is in the past (more than %s ago); omit it to join now", JoinAtPastTolerance)
	case joinAt.After(now.Add(MaxJoinAtAhead)):
		add("join_at", "is more than %d days ahead", int(MaxJoinAtAhead.Hours()/24))
	}
}

func automaticLeave(req *AutomaticLeave, add func(string, string, ...any)) store.AutomaticLeave {
	if req == nil {
		req = &AutomaticLeave{}
	}
	pick := func(name string, v *int) int {
		b := leaveBounds[name]
		if v == nil {
			return b[0]
		}
		if *v < b[1] || *v > b[2] {
			add("automatic_leave."+name, "must be between %d and %d seconds", b[1], b[2])
		}
		return *v
	}
	return store.AutomaticLeave{
		WaitingRoomTimeoutSeconds:  pick("waiting_room_timeout_seconds", req.WaitingRoomTimeoutSeconds),
		NooneJoinedTimeoutSeconds:  pick("noone_joined_timeout_seconds", req.NooneJoinedTimeoutSeconds),
		EveryoneLeftTimeoutSeconds: pick("everyone_left_timeout_seconds", req.EveryoneLeftTimeoutSeconds),
		InactivityTimeoutSeconds:   pick("inactivity_timeout_seconds", req.InactivityTimeoutSeconds),
	}
}

func validateMetadata(raw json.RawMessage, add func(string, string, ...any)) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	// Kept as sent (compacted), so numbers keep their precision.
	var compact bytes.Buffer
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Compact(&compact, raw) != nil {
		add("metadata", "must be a JSON object")
		return nil
	}
	// Checked here, so jsonb never refuses it (a 500) at insert.
	if msg := checkJSONB(compact.Bytes()); msg != "" {
		add("metadata", "%s", msg)
		return nil
	}
	if compact.Len() > MaxMetadataBytes {
		add("metadata", "must be at most %d bytes of JSON", MaxMetadataBytes)
	}
	return compact.Bytes()
}

func validateCallback(raw *string, add func(string, string, ...any)) *string {
	if raw == nil || *raw == "" {
		return nil
	}
	u, err := url.Parse(*raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(*raw) > MaxCallbackURLLength {
		add("callback_url", "must be an absolute http(s) URL without credentials, at most %d characters", MaxCallbackURLLength)
		return nil
	}
	return raw
}
