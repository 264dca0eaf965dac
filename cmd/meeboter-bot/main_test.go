package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRunWithoutSimulate(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	require.Equal(t, 2, run(context.Background(), nil, envOf(nil), &stderr))
	require.Contains(t, stderr.String(), "only --simulate")
}

func TestRunReportsMissingEnv(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	require.Equal(t, 2, run(context.Background(), []string{"--simulate"}, envOf(nil), &stderr))
	for _, name := range []string{botproto.EnvBotID, botproto.EnvAuthToken, botproto.EnvPoolSlotUUID, botproto.EnvPoolSlotToken} {
		require.Contains(t, stderr.String(), name)
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	require.Equal(t, 0, run(context.Background(), []string{"-h"}, envOf(nil), &stderr))
	require.Contains(t, stderr.String(), "-call-seconds")
}
