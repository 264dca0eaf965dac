package ecssim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/require"
)

// rawCall sends body to the simulator as op, signed with secret, with
// tamper applied after signing; it returns the status and error code.
func rawCall(t *testing.T, url, op, body, secret string, tamper func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret}
	require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()))
	if tamper != nil {
		tamper(req)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	require.Equal(t, "application/x-amz-json-1.1", res.Header.Get("Content-Type"))
	require.NotEmpty(t, res.Header.Get("X-Amzn-Requestid"))
	var out struct {
		Type string `json:"__type"`
	}
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return res.StatusCode, out.Type
}

func TestSigV4(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	_, err := newClient(e.url, testKeyID, testSecret, "us-east-1").ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err)

	_, err = newClient(e.url, testKeyID, "wrong-secret", "us-east-1").ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.Equal(t, "InvalidSignatureException", apiCode(err))
	_, err = newClient(e.url, "AKIDOTHER", testSecret, "us-east-1").ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.Equal(t, "UnrecognizedClientException", apiCode(err))
	_, err = newClient(e.url, testKeyID, testSecret, "eu-west-1").ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.Equal(t, "InvalidSignatureException", apiCode(err))

	status, code := rawCall(t, e.url, "ListTasks", `{}`, testSecret, nil)
	require.Equal(t, http.StatusOK, status, code)
	status, code = rawCall(t, e.url, "ListTasks", `{}`, testSecret, func(r *http.Request) { r.Header.Del("Authorization") })
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "MissingAuthenticationTokenException", code)
	_, code = rawCall(t, e.url, "ListTasks", `{}`, testSecret, func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`[]`)) // same length, other bytes
	})
	require.Equal(t, "InvalidSignatureException", code, "the body is covered by the signature")
	_, code = rawCall(t, e.url, "ListTasks", `{}`, testSecret, func(r *http.Request) {
		r.Header.Set("X-Amz-Target", targetPrefix+"RunTask")
	})
	require.Equal(t, "InvalidSignatureException", code, "so are the signed headers")
	status, code = rawCall(t, e.url, "DeleteCluster", `{}`, testSecret, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "UnknownOperationException", code)
	status, code = rawCall(t, e.url, "RunTask", `{"count":`, testSecret, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "SerializationException", code)

	// Wrong secret, key id and region, no signature, two tamperings.
	require.Equal(t, 6, e.sim.Stats().AuthFailures)
}

// TestEndpointFromEnvironment points the SDK at the simulator the way a
// deployment does: AWS_ENDPOINT_URL_ECS and the AWS_* credentials.
// t.Setenv rules out t.Parallel.
func TestEndpointFromEnvironment(t *testing.T) {
	e := newSim(t, Config{})
	t.Setenv("AWS_ENDPOINT_URL_ECS", e.url)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	cfg, err := config.LoadDefaultConfig(context.Background())
	require.NoError(t, err)
	client := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.Retryer = aws.NopRetryer{} })
	out, err := client.RunTask(e.ctx, runInput())
	require.NoError(t, err)
	require.Len(t, out.Tasks, 1)
}
