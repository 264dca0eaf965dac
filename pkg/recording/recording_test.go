package recording_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/s3server"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/recording"
)

type testBundle struct {
	server  *s3server.Server
	cfg     config.S3
	storage *recording.Storage
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := s3server.StartT(t)
	cfg := config.S3{Endpoint: srv.Endpoint(), AccessKey: srv.AccessKey(), SecretKey: srv.SecretKey(),
		Bucket: "recordings", Region: srv.Region(), UploadURLTTL: time.Hour, DownloadURLTTL: time.Hour}
	st, err := recording.New(cfg)
	require.NoError(t, err)
	require.NoError(t, st.EnsureBucket(context.Background()))
	return &testBundle{server: srv, cfg: cfg, storage: st}
}

// put sends body to a presigned URL and returns the status code.
func put(t *testing.T, url string, body []byte) int {
	t.Helper()
	status, _, _ := call(t, http.MethodPut, url, body)
	return status
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	return call(t, http.MethodGet, url, nil)
}

func call(t *testing.T, method, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

func TestUploadVerifyDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := recording.UploadKey(uuid.New(), 1, "google-meet", "mp4")

	_, err := b.storage.Stat(ctx, key)
	require.ErrorIs(t, err, recording.ErrNotFound)

	up, err := b.storage.PresignUpload(ctx, key)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), up.Expires, 5*time.Second)
	require.NotContains(t, up.URL, b.cfg.SecretKey)
	require.Equal(t, http.StatusOK, put(t, up.URL, []byte("0123456789")))

	obj, err := b.storage.Stat(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 10, obj.Size)
	sealed, err := b.storage.Seal(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 10, sealed.Size)

	down, err := b.storage.PresignDownload(ctx, sealed.Key)
	require.NoError(t, err)
	status, header, body := get(t, down.URL)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "0123456789", string(body))
	require.Equal(t, "video/mp4", header.Get("Content-Type"))
	require.Contains(t, header.Get("Content-Disposition"), `filename="1-google-meet.mp4"`)
}

// A presigned PUT is for its key only: the signature covers the path.
func TestPresignedPutCannotWriteAnotherKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	bot := uuid.New()
	mine := recording.UploadKey(bot, 1, "zoom", "mp4")
	up, err := b.storage.PresignUpload(ctx, mine)
	require.NoError(t, err)

	for _, other := range []string{recording.UploadKey(bot, 2, "zoom", "mp4"), recording.UploadKey(uuid.New(), 1, "zoom", "mp4"),
		"bots/" + bot.String() + "/uploads/1-zoom.webm", "bots/" + bot.String() + "/recordings/1-zoom.mp4"} {
		forged := strings.Replace(up.URL, mine, other, 1)
		require.NotEqual(t, up.URL, forged)
		require.Equal(t, http.StatusForbidden, put(t, forged, []byte("evil")), other)
		_, err := b.storage.Stat(ctx, other)
		require.ErrorIs(t, err, recording.ErrNotFound, other)
	}
	// Nor may it read: the same URL used for GET is refused.
	status, _, _ := get(t, up.URL)
	require.Equal(t, http.StatusForbidden, status)
}

func TestExpiredURLsFail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := recording.UploadKey(uuid.New(), 1, "zoom", "mp4")
	// SigV4's minimum is one second; the config's minimum (1m) is for
	// production, so build the short-lived storage directly.
	short := b.cfg
	short.UploadURLTTL, short.DownloadURLTTL = time.Second, time.Second
	st, err := recording.New(short)
	require.NoError(t, err)

	up, err := st.PresignUpload(ctx, key)
	require.NoError(t, err)
	good, err := b.storage.PresignUpload(ctx, key)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, put(t, good.URL, []byte("data")))
	down, err := st.PresignDownload(ctx, key)
	require.NoError(t, err)

	time.Sleep(2100 * time.Millisecond) // let the one-second URLs expire
	require.Equal(t, http.StatusForbidden, put(t, up.URL, []byte("late")))
	status, _, _ := get(t, down.URL)
	require.Equal(t, http.StatusForbidden, status)
}

func TestWrongCredentialsFail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	wrong := b.cfg
	wrong.SecretKey = strings.Repeat("x", 40)
	st, err := recording.New(wrong)
	require.NoError(t, err)

	require.Error(t, st.Ping(ctx))
	key := recording.UploadKey(uuid.New(), 1, "zoom", "mp4")
	up, err := st.PresignUpload(ctx, key) // signing is local: it "works"...
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, put(t, up.URL, []byte("x"))) // ...the server says no
	_, err = b.storage.Stat(ctx, key)
	require.ErrorIs(t, err, recording.ErrNotFound)
}

func TestEnsureBucketIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.storage.EnsureBucket(context.Background()))
	require.NoError(t, b.storage.Ping(context.Background()))
}

// versitygw does not implement bucket lifecycle, so asking for retention
// must fail start-up loudly rather than keep recordings forever silently.
func TestRetentionOnAServerWithoutLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.cfg
	cfg.RetentionDays = 30
	st, err := recording.New(cfg)
	require.NoError(t, err)
	err = st.EnsureBucket(context.Background())
	require.ErrorContains(t, err, "RECORDING_RETENTION_DAYS=30")
	require.ErrorContains(t, err, "lifecycle")
}

func TestRetentionRule(t *testing.T) {
	t.Parallel()
	cfg := recording.RetentionRule(30)
	require.Len(t, cfg.Rules, 1)
	r := cfg.Rules[0]
	require.Equal(t, "Enabled", r.Status)
	require.Equal(t, recording.KeyPrefix, r.RuleFilter.Prefix)
	require.EqualValues(t, 30, r.Expiration.Days)
}

func TestKeys(t *testing.T) {
	t.Parallel()
	bot := uuid.MustParse("0b6f4b8e-4a36-4bb7-9d70-3f7c1e0a9f11")
	key := recording.UploadKey(bot, 2, "microsoft-teams", "webm")
	require.Equal(t, "bots/0b6f4b8e-4a36-4bb7-9d70-3f7c1e0a9f11/uploads/2-microsoft-teams.webm", key)
	f, ok := recording.ParseUploadKey(key, bot, 2, "microsoft-teams")
	require.True(t, ok)
	require.Equal(t, "webm", f)
	for _, bad := range []string{
		recording.UploadKey(bot, 1, "microsoft-teams", "webm"), // another attempt
		recording.UploadKey(uuid.New(), 2, "microsoft-teams", "webm"),
		recording.UploadKey(bot, 2, "zoom", "webm"),
		recording.UploadKey(bot, 2, "microsoft-teams", "exe"),
		key + "/../x", "../" + key, "",
		"bots/0b6f4b8e-4a36-4bb7-9d70-3f7c1e0a9f11/recordings/2-microsoft-teams.webm", // not an upload key
	} {
		_, ok := recording.ParseUploadKey(bad, bot, 2, "microsoft-teams")
		require.False(t, ok, bad)
	}
	require.Equal(t, "webm", recording.DefaultFormat("microsoft-teams", "video"))
	require.Equal(t, "mp4", recording.DefaultFormat("zoom", "video"))
	require.Equal(t, "m4a", recording.DefaultFormat("google-meet", "audio"))
	require.Equal(t, "audio/mp4", recording.ContentType(recording.UploadKey(bot, 1, "zoom", "m4a")))
}

// The swap probe: once sealed, the recording cannot change, although the
// bot still holds a valid upload URL and uses it again.
func TestSealedRecordingSurvivesReupload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := recording.UploadKey(uuid.New(), 1, "zoom", "mp4")
	up, err := b.storage.PresignUpload(ctx, key)
	require.NoError(t, err)
	verified := []byte("twenty-five bytes of mp4!")
	require.Equal(t, http.StatusOK, put(t, up.URL, verified))

	sealed, err := b.storage.Seal(ctx, key)
	require.NoError(t, err)
	require.NotEqual(t, key, sealed.Key)
	require.EqualValues(t, len(verified), sealed.Size)
	require.NoError(t, b.storage.Remove(ctx, key))

	// The same URL, still valid: the PUT lands on the upload key only.
	swap := bytes.Repeat([]byte("<html>"), 1<<16)
	require.Equal(t, http.StatusOK, put(t, up.URL, swap))

	down, err := b.storage.PresignDownload(ctx, sealed.Key)
	require.NoError(t, err)
	status, header, body := get(t, down.URL)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, verified, body)
	require.Equal(t, "video/mp4", header.Get("Content-Type"))
	again, err := b.storage.Stat(ctx, sealed.Key)
	require.NoError(t, err)
	require.Equal(t, sealed, again)
}

// Two seals of one upload make two objects: a late one never overwrites
// the copy an earlier one returned.
func TestSealsNeverOverwrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := recording.UploadKey(uuid.New(), 1, "zoom", "m4a")
	up, err := b.storage.PresignUpload(ctx, key)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, put(t, up.URL, []byte("first")))
	first, err := b.storage.Seal(ctx, key)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, put(t, up.URL, []byte("second!")))
	second, err := b.storage.Seal(ctx, key)
	require.NoError(t, err)

	require.NotEqual(t, first.Key, second.Key)
	require.True(t, strings.HasSuffix(first.Key, "/1-zoom.m4a"), first.Key)
	got, err := b.storage.Stat(ctx, first.Key)
	require.NoError(t, err)
	require.EqualValues(t, 5, got.Size)
}

func TestSealRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := recording.UploadKey(uuid.New(), 1, "zoom", "mp4")
	_, err := b.storage.Seal(ctx, key)
	require.ErrorIs(t, err, recording.ErrNotFound)

	up, err := b.storage.PresignUpload(ctx, key)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, put(t, up.URL, nil))
	_, err = b.storage.Seal(ctx, key)
	require.ErrorIs(t, err, recording.ErrEmpty)

	_, err = b.storage.Seal(ctx, "bots/x/recordings/1-zoom.mp4")
	require.ErrorContains(t, err, "not an upload key")
	require.NoError(t, b.storage.Remove(ctx, key))
	require.NoError(t, b.storage.Remove(ctx, key), "removing a missing key is no error")
}
