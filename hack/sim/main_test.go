package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCoolifyPrintsEnvAndServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"coolify", "--addr", "127.0.0.1:0", "--token", "1|t", "--project-uuid", "p",
			"--cold-start", "0"}, outW, io.Discard)
		_ = outW.Close()
	}()

	env := map[string]string{}
	sc := bufio.NewScanner(outR)
	for len(env) < 4 && sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, sc.Text())
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	require.Equal(t, "1|t", env["COOLIFY_API_TOKEN"])
	require.Equal(t, "p", env["COOLIFY_PROJECT_UUID"])
	require.Regexp(t, `^[a-z0-9]{24}$`, env["COOLIFY_SERVER_UUID"])
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/api/v1$`, env["COOLIFY_API_URL"])

	body := `{"project_uuid":"p","server_uuid":"` + env["COOLIFY_SERVER_UUID"] + `","environment_name":"production",` +
		`"docker_registry_image_name":"nginx","autogenerate_domain":false}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env["COOLIFY_API_URL"]+"/applications/dockerimage", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer 1|t")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusCreated, res.StatusCode)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"ecs"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "not yet implemented")
	require.Equal(t, 2, run(context.Background(), nil, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), []string{"coolify", "--nope"}, io.Discard, io.Discard))
}
