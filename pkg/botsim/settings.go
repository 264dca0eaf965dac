package botsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
)

// Environment variables mirroring the misbehaviour flags. Run reads them
// as flag defaults; RunWithEnv ignores them (pass Settings, for example
// from SettingsFromEnv).
const (
	EnvCallSeconds        = "SIM_CALL_SECONDS"
	EnvWaitingRoomSeconds = "SIM_WAITING_ROOM_SECONDS"
	EnvHeartbeatInterval  = "SIM_HEARTBEAT_INTERVAL"
	EnvCrashAt            = "SIM_CRASH_AT"
	EnvIgnoreLeave        = "SIM_IGNORE_LEAVE"
	EnvNoHeartbeat        = "SIM_NO_HEARTBEAT"
	EnvExitCode           = "SIM_EXIT_CODE"
	EnvRecordingBytes     = "SIM_RECORDING_BYTES"
)

// MetadataKey is the config metadata object holding per-bot overrides
// (call_seconds, waiting_room_seconds, crash_at, ignore_leave,
// no_heartbeat, exit_code). They win over Settings.
const MetadataKey = "simulate"

// defaultCallSeconds is the call length when nothing says otherwise.
const defaultCallSeconds = 10

// Settings is how one simulated meeting behaves. The zero value is valid:
// a call that lasts until the controller asks the bot to leave.
type Settings struct {
	// CallDuration is time spent IN_CALL; 0 means until told to leave.
	CallDuration time.Duration
	// WaitingRoom is time spent IN_WAITING_ROOM; 0 skips the phase.
	WaitingRoom time.Duration
	// HeartbeatInterval overrides the config's interval when non-zero.
	HeartbeatInterval time.Duration
	// CrashAt, if set, makes the bot crash on entering that phase, before
	// reporting it: exit 1 for a single bot, and for a pool slot the
	// assignment is abandoned without a word (the slot goes back to
	// asking for work, as a restarted container would).
	CrashAt     botproto.Status
	IgnoreLeave bool
	NoHeartbeat bool
	// ExitCode is the process exit code after a completed meeting. A pool
	// slot never exits, so it only logs it.
	ExitCode int
	// RecordingBytes is the size of the generated recording uploaded when
	// the bot records; 0 means 3 MiB.
	RecordingBytes int64
}

// DefaultSettings is what the command line gives with no flags and no
// SIM_* variables: a 10 s call.
func DefaultSettings() Settings {
	return Settings{CallDuration: defaultCallSeconds * time.Second, RecordingBytes: defaultRecordingBytes}
}

// crashablePhases are the phases CrashAt accepts: the ones the bot
// enters on its own (DONE and FATAL end the process anyway).
var crashablePhases = map[botproto.Status]bool{
	botproto.StatusReady: true, botproto.StatusJoiningCall: true, botproto.StatusInWaitingRoom: true,
	botproto.StatusInCall: true, botproto.StatusLeaving: true,
}

// Validate reports settings the simulator cannot play.
func (s Settings) Validate() error {
	switch {
	case s.CallDuration < 0 || s.WaitingRoom < 0 || s.HeartbeatInterval < 0:
		return errors.New("durations must not be negative")
	case s.CrashAt != "" && !crashablePhases[s.CrashAt]:
		return fmt.Errorf("crash-at %q is not one of JOINING_CALL, IN_WAITING_ROOM, IN_CALL, LEAVING", s.CrashAt)
	case s.ExitCode < 0 || s.ExitCode > 255:
		return fmt.Errorf("exit code %d is outside 0..255", s.ExitCode)
	case s.RecordingBytes < 0:
		return fmt.Errorf("recording bytes %d must not be negative", s.RecordingBytes)
	}
	return nil
}

// SettingsFromEnv returns DefaultSettings with the SIM_* variables read
// through getenv applied, exactly as Run reads them when no flag is given.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	o, err := parseOptions(nil, getenv, io.Discard)
	return o.Settings, err
}

// errReported is a usage error already printed by the flag package.
var errReported = errors.New("usage error")

// options is the parsed command line.
type options struct {
	Simulate bool
	Settings Settings
}

// parseOptions reads flags from args; each flag defaults to its SIM_*
// environment variable, so a flag beats the environment.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	env := envDefaults{getenv: getenv}
	var o options
	var callSec, waitSec float64
	var crashAt string
	fs := flag.NewFlagSet("meeboter-bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.Simulate, "simulate", false, "play a whole meeting without a browser")
	fs.Float64Var(&callSec, "call-seconds", env.float(EnvCallSeconds, defaultCallSeconds), "seconds IN_CALL, 0 = until told to leave ($"+EnvCallSeconds+")")
	fs.Float64Var(&waitSec, "waiting-room-seconds", env.float(EnvWaitingRoomSeconds, 0), "seconds IN_WAITING_ROOM, 0 = skip ($"+EnvWaitingRoomSeconds+")")
	fs.DurationVar(&o.Settings.HeartbeatInterval, "heartbeat-interval", env.duration(EnvHeartbeatInterval), "override the config's heartbeat interval ($"+EnvHeartbeatInterval+")")
	fs.StringVar(&crashAt, "crash-at", getenv(EnvCrashAt), "exit 1 on entering this phase, before reporting it ($"+EnvCrashAt+")")
	fs.BoolVar(&o.Settings.IgnoreLeave, "ignore-leave", env.bool(EnvIgnoreLeave), "ignore should_leave and leave_at ($"+EnvIgnoreLeave+")")
	fs.BoolVar(&o.Settings.NoHeartbeat, "no-heartbeat", env.bool(EnvNoHeartbeat), "never heartbeat ($"+EnvNoHeartbeat+")")
	fs.IntVar(&o.Settings.ExitCode, "exit-code", env.int(EnvExitCode), "exit code after reporting DONE ($"+EnvExitCode+")")
	fs.Int64Var(&o.Settings.RecordingBytes, "recording-bytes", env.int64(EnvRecordingBytes, defaultRecordingBytes), "size of the recording uploaded when the bot records ($"+EnvRecordingBytes+")")
	if env.err != nil {
		return o, env.err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errReported // the flag package already printed it
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	o.Settings.CallDuration = seconds(callSec)
	o.Settings.WaitingRoom = seconds(waitSec)
	o.Settings.CrashAt = botproto.Status(crashAt)
	return o, o.Settings.Validate()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// envDefaults parses environment variables, keeping the first error so
// flag definitions stay one line each.
type envDefaults struct {
	getenv func(string) string
	err    error
}

func parseEnv[T any](e *envDefaults, name string, def T, parse func(string) (T, error)) T {
	raw := e.getenv(name)
	if raw == "" {
		return def
	}
	v, err := parse(raw)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("invalid %s=%q: %w", name, raw, err)
	}
	return v
}

func (e *envDefaults) float(name string, def float64) float64 {
	return parseEnv(e, name, def, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}
func (e *envDefaults) int(name string) int { return parseEnv(e, name, 0, strconv.Atoi) }
func (e *envDefaults) int64(name string, def int64) int64 {
	return parseEnv(e, name, def, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
}
func (e *envDefaults) bool(name string) bool { return parseEnv(e, name, false, strconv.ParseBool) }
func (e *envDefaults) duration(name string) time.Duration {
	return parseEnv(e, name, 0, time.ParseDuration)
}

// overrides is metadata["simulate"]; nil fields leave a setting alone.
type overrides struct {
	CallSeconds        *float64 `json:"call_seconds"`
	WaitingRoomSeconds *float64 `json:"waiting_room_seconds"`
	CrashAt            *string  `json:"crash_at"`
	IgnoreLeave        *bool    `json:"ignore_leave"`
	NoHeartbeat        *bool    `json:"no_heartbeat"`
	ExitCode           *int     `json:"exit_code"`
	RecordingBytes     *int64   `json:"recording_bytes"`
}

// withMetadata applies the per-bot overrides in metadata, which win over
// flags and environment. Unknown keys are an error so that a typo in a
// test's metadata fails loudly instead of silently using defaults.
func (s Settings) withMetadata(metadata map[string]any) (Settings, error) {
	raw, ok := metadata[MetadataKey]
	if !ok {
		return s, nil
	}
	// Round-trip through JSON to get type checking for free.
	b, err := json.Marshal(raw)
	if err != nil {
		return s, err
	}
	var o overrides
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return s, fmt.Errorf("metadata.%s: %w", MetadataKey, err)
	}
	if o.CallSeconds != nil {
		s.CallDuration = seconds(*o.CallSeconds)
	}
	if o.WaitingRoomSeconds != nil {
		s.WaitingRoom = seconds(*o.WaitingRoomSeconds)
	}
	if o.CrashAt != nil {
		s.CrashAt = botproto.Status(*o.CrashAt)
	}
	if o.IgnoreLeave != nil {
		s.IgnoreLeave = *o.IgnoreLeave
	}
	if o.NoHeartbeat != nil {
		s.NoHeartbeat = *o.NoHeartbeat
	}
	if o.ExitCode != nil {
		s.ExitCode = *o.ExitCode
	}
	if o.RecordingBytes != nil {
		s.RecordingBytes = *o.RecordingBytes
	}
	return s, s.Validate()
}
