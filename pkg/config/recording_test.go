package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/config"
)

func TestS3Config(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{"MINIO_ENDPOINT": "http://minio:9000", "MINIO_ACCESS_KEY": "ak", "MINIO_SECRET_KEY": "sk",
		"MINIO_BUCKET_NAME": "recs", "MINIO_REGION": "eu-west-1", "S3_BUCKET_NAME": "wins",
		"RECORDING_RETENTION_DAYS": "30", "RECORDING_UPLOAD_URL_TTL": "2h"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.S3{Endpoint: "http://minio:9000", AccessKey: "ak", SecretKey: "sk", Bucket: "wins",
		Region: "eu-west-1", UploadURLTTL: 2 * time.Hour, DownloadURLTTL: time.Hour, RetentionDays: 30}, c.S3)
	require.True(t, c.S3.Configured())

	for endpoint, want := range map[string]struct {
		hostPort string
		secure   bool
	}{
		"http://127.0.0.1:9000": {"127.0.0.1:9000", false}, "https://s3.example.com": {"s3.example.com", true},
		"s3.amazonaws.com": {"s3.amazonaws.com", true}, "https://minio.example.com/": {"minio.example.com", true},
	} {
		hostPort, secure, err := config.SplitS3Endpoint(endpoint)
		require.NoError(t, err, endpoint)
		require.Equal(t, want.hostPort, hostPort, endpoint)
		require.Equal(t, want.secure, secure, endpoint)
	}
}

func TestS3ConfigErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  env
		want string
	}{
		"endpoint with a path":       {env{"S3_ENDPOINT": "http://h:9000/bucket", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_ENDPOINT:"},
		"endpoint with credentials":  {env{"S3_ENDPOINT": "http://u:p@h:9000", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_ENDPOINT:"},
		"ftp endpoint":               {env{"S3_ENDPOINT": "ftp://h", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_ENDPOINT:"},
		"no keys":                    {env{"S3_ENDPOINT": "http://h:9000"}, "S3_ACCESS_KEY:"},
		"retention without S3":       {env{"RECORDING_RETENTION_DAYS": "7"}, "RECORDING_RETENTION_DAYS:"},
		"negative retention":         {env{"RECORDING_RETENTION_DAYS": "-1"}, "RECORDING_RETENTION_DAYS:"},
		"upload URL beyond SigV4":    {env{"RECORDING_UPLOAD_URL_TTL": "200h"}, "RECORDING_UPLOAD_URL_TTL:"},
		"download URL too short":     {env{"RECORDING_DOWNLOAD_URL_TTL": "10s"}, "RECORDING_DOWNLOAD_URL_TTL:"},
		"webhook URL not http":       {env{"WEBHOOK_URL": "ftp://x", "WEBHOOK_SECRET": "0123456789abcdef"}, "WEBHOOK_URL:"},
		"webhook secret too short":   {env{"WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET:"},
		"webhook url, no secret":     {env{"WEBHOOK_URL": "https://hooks.example.com/x"}, "WEBHOOK_SECRET: is required"},
		"webhook workers zero":       {env{"WEBHOOK_WORKERS": "0"}, "WEBHOOK_WORKERS:"},
		"webhook timeout not a time": {env{"WEBHOOK_TIMEOUT": "soon"}, "WEBHOOK_TIMEOUT:"},
	} {
		_, err := config.Load(tc.env.getenv)
		errs := joined(t, err)
		require.Len(t, errs, 1, name)
		require.ErrorContains(t, errs[0], tc.want, name)
		require.NotContains(t, errs[0].Error(), "p@h", "%s: the error must not echo credentials", name)
	}
}

func TestWebhooksConfig(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{"WEBHOOK_URL": "https://hooks.example.com/meeboter", "WEBHOOK_SECRET": "0123456789abcdef",
		"WEBHOOK_TIMEOUT": "3s", "WEBHOOK_RETRY_WINDOW": "2h", "WEBHOOK_RETRY_BASE": "1s", "WEBHOOK_WORKERS": "5"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.Webhooks{URL: "https://hooks.example.com/meeboter", Secret: "0123456789abcdef",
		Timeout: 3 * time.Second, RetryWindow: 2 * time.Hour, RetryBase: time.Second, Workers: 5,
		BreakerFailures: 5, BreakerCooldown: 30 * time.Second}, c.Webhooks)
}
