package botproto_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestClientFromEnv(t *testing.T) {
	t.Parallel()
	c, err := botproto.ClientFromEnv(envFunc(map[string]string{
		botproto.EnvCallbackURL: "http://127.0.0.1:8080",
		botproto.EnvBotID:       testBotID,
		botproto.EnvAuthToken:   testToken,
	}))
	require.NoError(t, err)
	require.Equal(t, testBotID, c.BotID())
}

func TestClientFromEnvNamesMissingVariables(t *testing.T) {
	t.Parallel()
	_, err := botproto.ClientFromEnv(envFunc(map[string]string{
		botproto.EnvCallbackURL: "http://127.0.0.1:8080",
	}))
	require.ErrorContains(t, err, botproto.EnvBotID)
	require.ErrorContains(t, err, botproto.EnvAuthToken)
}

func TestClientFromEnvRejectsBadURL(t *testing.T) {
	t.Parallel()
	_, err := botproto.ClientFromEnv(envFunc(map[string]string{
		botproto.EnvCallbackURL: "127.0.0.1:8080",
		botproto.EnvBotID:       testBotID,
		botproto.EnvAuthToken:   testToken,
	}))
	require.ErrorContains(t, err, botproto.EnvCallbackURL)
	require.NotContains(t, err.Error(), testToken)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	require.True(t, botproto.StatusInWaitingRoom.Valid())
	require.False(t, botproto.Status("JOINED").Valid())
	require.True(t, botproto.StatusFatal.Terminal())
	require.False(t, botproto.StatusLeaving.Terminal())
}
