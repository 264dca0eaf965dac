package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
)

const recordingBody = `{"meeting_url":"` + meetURL + `","recording":{"enabled":true}}`

// s3Put uploads body to a presigned URL, as a bot does (not through the
// validating client: S3 is not our API).
func s3Put(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func s3Get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

func (b *testBundle) reportStatus(t *testing.T, id uuid.UUID, token string, statuses ...string) botproto.StatusResponse {
	t.Helper()
	var last botproto.StatusResponse
	for _, st := range statuses {
		r := b.botDo(t, http.MethodPost, "/bot/v1/status", token, id, `{"status":"`+st+`"}`)
		r.requireStatus(t, http.StatusOK)
		last = decodeJSON[botproto.StatusResponse](t, r)
	}
	return last
}

func TestRecordingUploadVerifyDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, recordingBody)
	token := b.deploy(t, bot.ID)[0]
	b.reportStatus(t, bot.ID, token, "JOINING_CALL", "IN_CALL", "LEAVING")
	key := recording.UploadKey(bot.ID, 1, "google-meet", "mp4")

	r := b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/recording", b.acme, "")
	r.requireStatus(t, http.StatusNotFound)
	require.Contains(t, r.problem(t).Detail, "no recording")

	// Completing before uploading: the server looks, and finds nothing.
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+key+`"}`)
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "upload it first")

	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", token, bot.ID, `{}`)
	r.requireStatus(t, http.StatusOK)
	up := decodeJSON[botproto.RecordingUpload](t, r)
	require.Equal(t, key, up.Key)
	require.Equal(t, http.MethodPut, up.Method)
	require.Equal(t, "video/mp4", up.ContentType)
	require.WithinDuration(t, time.Now().Add(time.Hour), up.ExpiresAt, 5*time.Second)
	require.True(t, strings.HasPrefix(up.URL, b.s3.Endpoint()+"/recordings/"+key+"?"), up.URL)
	require.NotContains(t, up.URL, b.s3.SecretKey(), "no S3 credential reaches a bot")

	payload := bytes.Repeat([]byte("meeboter"), 1000)
	require.Equal(t, http.StatusOK, s3Put(t, up.URL, payload))

	// Only this attempt's own key is accepted.
	for _, other := range []string{recording.UploadKey(bot.ID, 2, "google-meet", "mp4"), recording.UploadKey(uuid.New(), 1, "google-meet", "mp4"),
		"bots/" + bot.ID.String() + "/uploads/../x", "bots/" + bot.ID.String() + "/recordings/1-google-meet.mp4", ""} {
		r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+other+`"}`)
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"key"}, r.problem(t).fields())
	}
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+key+`"}`)
	r.requireStatus(t, http.StatusOK)
	stored := decodeJSON[botproto.RecordingStored](t, r)
	require.Regexp(t, `^bots/`+bot.ID.String()+`/recordings/[0-9a-f]{16}/1-google-meet\.mp4$`, stored.Key)
	require.Equal(t, int64(len(payload)), stored.SizeBytes)
	// A retry (the answer was lost) gets the same answer.
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+key+`"}`)
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, stored, decodeJSON[botproto.RecordingStored](t, r))

	require.Equal(t, botproto.StatusDone, b.reportStatus(t, bot.ID, token, "DONE").Status)
	got := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.ReasonCompleted, *got.StatusReason)
	require.Equal(t, int64(len(payload)), *got.RecordingSizeBytes)
	require.Contains(t, eventTypes(b.events(t, b.acme, bot.ID, "")), "RECORDING_UPLOADED")

	r = b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/recording", b.acme, "")
	r.requireStatus(t, http.StatusOK)
	view := decodeJSON[RecordingView](t, r)
	require.Equal(t, stored.Key, view.Key)
	require.Equal(t, int64(len(payload)), view.SizeBytes)
	require.Equal(t, "video/mp4", view.ContentType)
	status, data := s3Get(t, view.URL)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, payload, data)

	// Another tenant gets nothing: not the URL, not even that it exists.
	r = b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/recording", b.globex, "")
	r.requireStatus(t, http.StatusNotFound)
	require.NotContains(t, string(r.body), stored.Key)

	// Once DONE, the recording cannot be replaced.
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", token, bot.ID, `{}`)
	r.requireStatus(t, http.StatusConflict)
	b.requireValidated(t)
}

// The swap probe (issue 12): a bot uploads, completes, then PUTs something
// else through the same upload URL, still valid, even after it ended, and
// completes again. Users must still download the verified bytes, at the
// verified size.
func TestRecordingSwapAfterComplete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, recordingBody)
	token := b.deploy(t, bot.ID)[0]
	b.reportStatus(t, bot.ID, token, "JOINING_CALL", "IN_CALL", "LEAVING")
	r := b.botDo(t, http.MethodPost, "/bot/v1/recording", token, bot.ID, `{}`)
	r.requireStatus(t, http.StatusOK)
	up := decodeJSON[botproto.RecordingUpload](t, r)
	verified := []byte("twenty-five bytes of mp4!")
	require.Equal(t, http.StatusOK, s3Put(t, up.URL, verified))
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+up.Key+`"}`)
	r.requireStatus(t, http.StatusOK)

	// Before the bot ends, and once more after: neither swap reaches users.
	swap := bytes.Repeat([]byte("<html><script>evil()</script></html>"), 1<<15)
	require.Equal(t, http.StatusOK, s3Put(t, up.URL, swap))
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", token, bot.ID, `{"key":"`+up.Key+`"}`)
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, int64(len(verified)), decodeJSON[botproto.RecordingStored](t, r).SizeBytes)
	require.Equal(t, botproto.StatusDone, b.reportStatus(t, bot.ID, token, "DONE").Status)
	require.Equal(t, http.StatusOK, s3Put(t, up.URL, swap))

	r = b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/recording", b.acme, "")
	r.requireStatus(t, http.StatusOK)
	view := decodeJSON[RecordingView](t, r)
	require.Equal(t, int64(len(verified)), view.SizeBytes)
	require.NotEqual(t, up.Key, view.Key, "users never read the key the bot can write")
	status, data := s3Get(t, view.URL)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, verified, data)
}

// DONE promises a recording: a recording bot that says DONE without one
// ends FATAL, and the reason says why.
func TestDoneWithoutRecordingIsFatal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, recordingBody)
	token := b.deploy(t, bot.ID)[0]
	b.reportStatus(t, bot.ID, token, "JOINING_CALL", "IN_CALL", "LEAVING")

	// Asked for a URL but never uploaded: still no recording.
	r := b.botDo(t, http.MethodPost, "/bot/v1/recording", token, bot.ID, `{"format":"webm"}`)
	r.requireStatus(t, http.StatusOK)

	require.Equal(t, botproto.StatusFatal, b.reportStatus(t, bot.ID, token, "DONE").Status)
	got := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.StatusFatal, got.Status)
	require.Equal(t, store.ReasonRecordingMissing, *got.StatusReason)
	require.Nil(t, got.RecordingSizeBytes)
	b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/recording", b.acme, "").requireStatus(t, http.StatusNotFound)
}

func TestRecordingRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := b.create(t, b.acme, meetingBody(zoomURL))
	rec := b.create(t, b.acme, `{"meeting_url":"`+teamsURL+`","recording":{"enabled":true,"mode":"video"}}`)
	tokens := b.deploy(t, plain.ID, rec.ID)

	r := b.botDo(t, http.MethodPost, "/bot/v1/recording", tokens[0], plain.ID, `{}`)
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "recording is off")

	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", tokens[1], rec.ID, `{"format":"exe"}`)
	r.requireStatus(t, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"format"}, r.problem(t).fields())

	// Another bot's token cannot get this bot a URL.
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", tokens[0], rec.ID, `{}`)
	r.requireStatus(t, http.StatusForbidden)
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", "", rec.ID, `{}`)
	r.requireStatus(t, http.StatusUnauthorized)

	r = b.botDo(t, http.MethodPost, "/bot/v1/recording", tokens[1], rec.ID, `{}`)
	r.requireStatus(t, http.StatusOK)
	up := decodeJSON[botproto.RecordingUpload](t, r)
	require.Equal(t, recording.UploadKey(rec.ID, 1, "microsoft-teams", "webm"), up.Key, "Teams records WebM by default")

	// An empty object is not a recording.
	require.Equal(t, http.StatusOK, s3Put(t, up.URL, nil))
	r = b.botDo(t, http.MethodPost, "/bot/v1/recording/complete", tokens[1], rec.ID, `{"key":"`+up.Key+`"}`)
	r.requireStatus(t, http.StatusUnprocessableEntity)
	require.Contains(t, r.problem(t).Detail, "empty")
}

// Without S3 a bot that records is refused at creation, and nothing is written.
func TestRecordingNeedsS3(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := &Server{Store: b.st, Clock: b.clock, Logger: zap.NewNop()}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	before := b.counts(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/api/v1/bots", strings.NewReader(recordingBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.acme)
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	r.requireStatus(t, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"recording.enabled"}, r.problem(t).fields())
	require.Equal(t, before, b.counts(t))
}
