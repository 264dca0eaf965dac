package botsim

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"--simulate"}, envOf(nil), io.Discard)
	require.NoError(t, err)
	require.True(t, o.Simulate)
	require.Equal(t, Settings{CallDuration: 10 * time.Second, RecordingBytes: 3 << 20}, o.Settings)
}

func TestEnvAndFlags(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{
		EnvCallSeconds: "0.5", EnvWaitingRoomSeconds: "2", EnvHeartbeatInterval: "250ms",
		EnvCrashAt: "IN_CALL", EnvIgnoreLeave: "true", EnvNoHeartbeat: "1", EnvExitCode: "4",
		EnvRecordingBytes: "1000",
	})

	o, err := parseOptions(nil, env, io.Discard)
	require.NoError(t, err)
	require.Equal(t, Settings{
		CallDuration: 500 * time.Millisecond, WaitingRoom: 2 * time.Second, HeartbeatInterval: 250 * time.Millisecond,
		CrashAt: botproto.StatusInCall, IgnoreLeave: true, NoHeartbeat: true, ExitCode: 4, RecordingBytes: 1000,
	}, o.Settings)

	// Flags beat the environment.
	o, err = parseOptions([]string{"--crash-at=LEAVING", "--exit-code=0", "--ignore-leave=false"}, env, io.Discard)
	require.NoError(t, err)
	require.Equal(t, botproto.StatusLeaving, o.Settings.CrashAt)
	require.Zero(t, o.Settings.ExitCode)
	require.False(t, o.Settings.IgnoreLeave)
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env":       {env: map[string]string{EnvCallSeconds: "ten"}, want: EnvCallSeconds},
		"bad phase":     {args: []string{"--crash-at=DONE"}, want: "crash-at"},
		"bad exit code": {args: []string{"--exit-code=300"}, want: "exit code"},
		"negative":      {args: []string{"--call-seconds=-1"}, want: "negative"},
		"positional":    {args: []string{"--simulate", "extra"}, want: "unexpected"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseOptions(tc.args, envOf(tc.env), io.Discard)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	s, err := SettingsFromEnv(envOf(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultSettings(), s)

	s, err = SettingsFromEnv(envOf(map[string]string{EnvCallSeconds: "0", EnvCrashAt: "IN_CALL"}))
	require.NoError(t, err)
	require.Equal(t, Settings{CrashAt: botproto.StatusInCall, RecordingBytes: 3 << 20}, s)

	_, err = SettingsFromEnv(envOf(map[string]string{EnvExitCode: "x"}))
	require.ErrorContains(t, err, EnvExitCode)
}

func TestRunWithoutSimulate(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	require.Equal(t, ExitUsage, Run(context.Background(), envOf(nil), nil, &stderr))
	require.Contains(t, stderr.String(), "only --simulate")
}

func TestRunReportsMissingEnv(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"nothing": {want: []string{botproto.EnvBotID, botproto.EnvAuthToken, botproto.EnvPoolSlotUUID, botproto.EnvPoolSlotToken, botproto.EnvCallbackURL}},
		"bot without token": {
			env:  map[string]string{botproto.EnvBotID: testBotID, botproto.EnvCallbackURL: "http://127.0.0.1:1"},
			want: []string{botproto.EnvAuthToken},
		},
		"slot without token": {
			env:  map[string]string{botproto.EnvPoolSlotUUID: testSlotUUID},
			want: []string{botproto.EnvPoolSlotToken, botproto.EnvCallbackURL},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			require.Equal(t, ExitUsage, Run(context.Background(), envOf(tc.env), []string{"--simulate"}, &stderr))
			for _, w := range tc.want {
				require.Contains(t, stderr.String(), w)
			}
		})
	}
}
