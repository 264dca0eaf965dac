package botsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// API is the part of *botproto.Client the simulator needs.
type API interface {
	Config(ctx context.Context) (*botproto.Config, error)
	Heartbeat(ctx context.Context) (*botproto.HeartbeatResponse, error)
	ReportStatus(ctx context.Context, req botproto.StatusRequest) (*botproto.StatusResponse, error)
	ReportEvents(ctx context.Context, events []botproto.Event) (*botproto.EventsResponse, error)
	RecordingUpload(ctx context.Context, req botproto.RecordingRequest) (*botproto.RecordingUpload, error)
	RecordingComplete(ctx context.Context, key string) (*botproto.RecordingStored, error)
}

const (
	defaultHeartbeatInterval = 10 * time.Second
	defaultShutdownTimeout   = 5 * time.Second
)

// Reasons a meeting is cut short; they become the LEAVING reason code.
var (
	errShouldLeave = errors.New("should_leave")
	errLeaveAt     = errors.New("leave_at_reached")
	errDisowned    = errors.New("heartbeat_rejected")
)

// crashError is the simulated crash requested by Settings.CrashAt.
type crashError struct{ phase botproto.Status }

func (e crashError) Error() string { return "simulated crash at " + string(e.phase) }

// Simulator plays one meeting against the controller. Use it for a single
// Run; it records the last reported status between phases. It touches no
// global state, so any number of simulators can run in one process.
type Simulator struct {
	API      API
	Settings Settings
	Log      *slog.Logger
	// Config, when set, is used instead of fetching it from API: a pool
	// slot gets it with its assignment.
	Config *botproto.Config
	// Sleep waits for d or until ctx is done. d <= 0 returns at once.
	// Tests inject a scaled-down sleep to run whole meetings quickly.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for leave_at and event timestamps.
	Now func() time.Time
	// ShutdownTimeout bounds the best-effort LEAVING/DONE after ctx is
	// cancelled (a signal, or the container being stopped).
	ShutdownTimeout time.Duration
	// HTTP uploads the recording to its presigned URL (default
	// http.DefaultClient); S3 is not the controller, so not API.
	HTTP *http.Client

	reported  botproto.Status
	beatEvery time.Duration
}

func (s *Simulator) defaults() {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Sleep == nil {
		s.Sleep = sleepCtx
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.ShutdownTimeout <= 0 {
		s.ShutdownTimeout = defaultShutdownTimeout
	}
}

// Run plays the meeting and returns the process exit code. Cancelling ctx
// is how a signal arrives: the bot then says goodbye, within
// ShutdownTimeout, and returns 0.
func (s *Simulator) Run(ctx context.Context) int {
	s.defaults()
	cfg := s.Config
	if cfg == nil {
		var err error
		if cfg, err = s.API.Config(ctx); err != nil {
			var p *botproto.Problem
			switch {
			case ctx.Err() != nil:
				s.Log.Info("interrupted before joining")
				return 0
			case errors.As(err, &p) && (p.Status == http.StatusConflict || p.Status == http.StatusGone):
				// The attempt is over (ended, gone or replaced): nothing to do.
				s.Log.Info("controller says this attempt is over; nothing to do", "reason", p.Detail)
				return 0
			}
			s.Log.Error("fetching config failed", "err", err)
			return 1
		}
	}
	s.Log = s.Log.With("attempt", cfg.Attempt)
	if cfg.ShouldExit {
		s.Log.Info("controller says this bot is finished; nothing to do", "reason", cfg.ExitReason)
		return 0
	}
	set, err := s.Settings.withMetadata(cfg.Metadata)
	if err != nil {
		s.Log.Error("bad simulate metadata", "err", err)
		_, _ = s.API.ReportStatus(ctx, botproto.StatusRequest{
			Status: botproto.StatusFatal, Reason: "invalid_simulate_metadata", Message: err.Error(),
		})
		return 1
	}
	s.Log.Info("simulating meeting", "platform", cfg.MeetingPlatform, "call", set.CallDuration,
		"waiting_room", set.WaitingRoom, "crash_at", set.CrashAt, "ignore_leave", set.IgnoreLeave,
		"no_heartbeat", set.NoHeartbeat)

	// meetCtx ends when the meeting is cut short; its cause says why.
	meetCtx, leave := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer leave(nil)
	s.startLeaveTriggers(meetCtx, leave, cfg, set, &wg)

	return s.exitCode(ctx, s.meeting(ctx, meetCtx, cfg, set), set)
}

// startLeaveTriggers runs the heartbeat loop and the leave_at timer, the
// two things that can end a meeting early.
func (s *Simulator) startLeaveTriggers(meetCtx context.Context, leave context.CancelCauseFunc,
	cfg *botproto.Config, set Settings, wg *sync.WaitGroup) {
	s.beatEvery = set.HeartbeatInterval
	if s.beatEvery <= 0 {
		s.beatEvery = cfg.HeartbeatInterval()
	}
	if s.beatEvery <= 0 {
		s.beatEvery = defaultHeartbeatInterval
	}
	if !set.NoHeartbeat {
		every := s.beatEvery
		wg.Go(func() { s.heartbeat(meetCtx, every, leave, set.IgnoreLeave) })
	}
	if cfg.LeaveAt != nil && !set.IgnoreLeave {
		at := *cfg.LeaveAt
		wg.Go(func() {
			if s.Sleep(meetCtx, at.Sub(s.Now())) == nil {
				leave(errLeaveAt)
			}
		})
	}
}

// heartbeat beats until ctx ends, triggering leave when the controller
// asks for it or stops recognising this attempt (a final 4xx).
func (s *Simulator) heartbeat(ctx context.Context, every time.Duration, leave context.CancelCauseFunc, ignore bool) {
	ignored := false
	for s.Sleep(ctx, every) == nil {
		resp, err := s.API.Heartbeat(ctx)
		var p *botproto.Problem
		var cause error
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &p) && !p.Temporary():
			s.Log.Warn("heartbeat rejected", "err", err)
			cause = errDisowned
		case err != nil:
			s.Log.Warn("heartbeat failed", "err", err)
			continue
		case resp.ShouldLeave:
			cause = errShouldLeave
		default:
			continue
		}
		if ignore {
			if !ignored {
				s.Log.Warn("ignoring request to leave", "reason", cause)
				ignored = true
			}
			continue
		}
		s.Log.Info("leaving early", "reason", cause)
		leave(cause)
		return
	}
}

// meeting walks the phases. Status reports use ctx, not meetCtx, because
// LEAVING and DONE must still be sent after the meeting is cut short.
func (s *Simulator) meeting(ctx, meetCtx context.Context, cfg *botproto.Config, set Settings) error {
	entering, err := s.waitToJoin(ctx, meetCtx, cfg, set)
	if err != nil || !entering {
		if err == nil && ctx.Err() == nil {
			err = s.report(ctx, set, botproto.StatusDone, "left_before_joining")
		}
		return cmp.Or(ctx.Err(), err)
	}
	if err := s.report(ctx, set, botproto.StatusJoiningCall, ""); err != nil {
		return err
	}
	if set.WaitingRoom > 0 && meetCtx.Err() == nil {
		if err := s.report(ctx, set, botproto.StatusInWaitingRoom, ""); err != nil {
			return err
		}
		s.stay(meetCtx, set.WaitingRoom)
	}
	if meetCtx.Err() == nil {
		if err := s.report(ctx, set, botproto.StatusInCall, ""); err != nil {
			return err
		}
		if err := s.announceParticipant(ctx); err != nil {
			return err
		}
		s.stay(meetCtx, set.CallDuration)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	reason := "call_ended"
	if cause := context.Cause(meetCtx); cause != nil {
		reason = cause.Error()
	}
	if err := s.report(ctx, set, botproto.StatusLeaving, reason); err != nil {
		return err
	}
	if err := s.recordAndUpload(ctx, cfg, set); errors.Is(err, errUploadFailed) {
		_ = s.report(ctx, set, botproto.StatusFatal, errUploadFailed.Error())
		return err
	} else if err != nil {
		return err
	}
	return s.report(ctx, set, botproto.StatusDone, "")
}

// waitToJoin: a bot started before its join_at (a scheduled bot admitted
// a lead time early) is prepared at once, reports READY, and waits for
// join_at, heart-beating, to enter on time, not before. It reports false
// when the wait was cut short (told to leave, stopped).
func (s *Simulator) waitToJoin(ctx, meetCtx context.Context, cfg *botproto.Config, set Settings) (bool, error) {
	if cfg.JoinAt == nil || !cfg.JoinAt.After(s.Now()) {
		return true, nil
	}
	if err := s.report(ctx, set, botproto.StatusReady, ""); err != nil {
		return false, err
	}
	s.Log.Info("ready; waiting to join", "join_at", cfg.JoinAt.UTC())
	return s.Sleep(meetCtx, cfg.JoinAt.Sub(s.Now())) == nil, nil
}

// stay spends d in the current phase (forever when d is 0) unless the
// meeting is cut short.
func (s *Simulator) stay(meetCtx context.Context, d time.Duration) {
	if d == 0 {
		<-meetCtx.Done()
		return
	}
	_ = s.Sleep(meetCtx, d)
}

// report enters a phase: crash first if asked to, then tell the controller.
func (s *Simulator) report(ctx context.Context, set Settings, st botproto.Status, reason string) error {
	if set.CrashAt == st {
		return crashError{phase: st}
	}
	if _, err := s.API.ReportStatus(ctx, botproto.StatusRequest{Status: st, Reason: reason}); err != nil {
		return fmt.Errorf("report %s: %w", st, err)
	}
	s.reported = st
	s.Log.Info("status reported", "status", st, "reason", reason)
	return nil
}

// announceParticipant sends the one event a simulated call produces. Lost
// events are not worth ending the meeting for, but a 409 is.
func (s *Simulator) announceParticipant(ctx context.Context) error {
	_, err := s.API.ReportEvents(ctx, []botproto.Event{{
		Type:       botproto.EventParticipantJoin,
		OccurredAt: s.Now().UTC(),
		Data:       map[string]any{"participant_id": "sim-participant-1", "name": "Simulated Participant"},
	}})
	if err != nil && (ctx.Err() != nil || botproto.IsStatus(err, 409)) {
		return err
	}
	if err != nil {
		s.Log.Warn("reporting event failed", "err", err)
	}
	return nil
}

// exitCode turns the meeting's outcome into the process exit code.
func (s *Simulator) exitCode(ctx context.Context, err error, set Settings) int {
	var crash crashError
	switch {
	case err == nil:
		s.Log.Info("meeting finished", "exit_code", set.ExitCode)
		return set.ExitCode
	case errors.As(err, &crash):
		s.Log.Error("crashing on purpose", "phase", crash.phase)
		return 1
	case errors.Is(err, errUploadFailed):
		return 1
	case botproto.IsStatus(err, 409):
		s.Log.Info("controller refused the transition; stopping", "err", err)
		return 0
	case errors.Is(context.Cause(ctx), simcontainer.ErrKilled):
		// Killed, not stopped (an OOM kill, a crash): a process says nothing
		// more. Docker reports 137 for a SIGKILL.
		s.Log.Error("killed", "cause", context.Cause(ctx))
		return 137
	case ctx.Err() != nil:
		s.shutdown(ctx)
		return 0
	default:
		s.Log.Error("cannot reach controller", "err", err)
		return 1
	}
}

// completed reports whether the last Run saw the meeting through to DONE.
func (s *Simulator) completed() bool { return s.reported == botproto.StatusDone }

// shutdown says goodbye after a signal, best effort and time-boxed so the
// orchestrator's kill grace period is not exceeded.
func (s *Simulator) shutdown(ctx context.Context) {
	s.Log.Info("stop requested; leaving")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	defer cancel()
	for _, st := range []botproto.Status{botproto.StatusLeaving, botproto.StatusDone} {
		if st == botproto.StatusLeaving && s.reported == botproto.StatusLeaving {
			continue
		}
		if _, err := s.API.ReportStatus(sctx, botproto.StatusRequest{Status: st, Reason: "signal"}); err != nil {
			s.Log.Warn("goodbye not delivered", "status", st, "err", err)
			return
		}
		s.Log.Info("status reported", "status", st, "reason", "signal")
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
