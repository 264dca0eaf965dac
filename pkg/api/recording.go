package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
)

// Recordings is the recordings bucket; nil when S3 is not configured.
type Recordings interface {
	PresignUpload(ctx context.Context, key string) (recording.Presigned, error)
	PresignDownload(ctx context.Context, key string) (recording.Presigned, error)
	Stat(ctx context.Context, key string) (recording.Object, error)
}

// RecordingView is GET /api/v1/bots/{id}/recording.
type RecordingView struct {
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
	Key         string    `json:"key"`
	SizeBytes   int64     `json:"size_bytes"`
	ContentType string    `json:"content_type"`
	UploadedAt  time.Time `json:"uploaded_at"`
}

// recordingTarget checks that auth's attempt may upload now: recording on,
// S3 configured, the bot not finished and not yet holding a recording.
func (s *Server) recordingTarget(w http.ResponseWriter, r *http.Request, auth store.BotAuth) (store.Bot, bool) {
	b, err := s.Store.BotForAttempt(r.Context(), auth)
	switch {
	case err != nil:
		s.internal(w, err)
	case !b.Recording.Enabled:
		writeProblem(w, http.StatusConflict, "recording is off for this bot")
	case s.Recordings == nil:
		writeProblem(w, http.StatusConflict, "this server stores no recordings (S3_ENDPOINT is not set)")
	case b.Status.Terminal():
		writeProblem(w, http.StatusConflict, "the bot is "+string(b.Status)+"; nothing can be uploaded any more")
	default:
		return b, true
	}
	return b, false
}

func (s *Server) botRecording(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	var req botproto.RecordingRequest
	if !decodeBotBody(w, r, &req) {
		return
	}
	b, ok := s.recordingTarget(w, r, auth)
	if !ok {
		return
	}
	if b.RecordingKey != nil {
		writeProblem(w, http.StatusConflict, "this bot's recording is already stored at "+*b.RecordingKey)
		return
	}
	format := req.Format
	if format == "" {
		format = recording.DefaultFormat(b.MeetingPlatform, b.Recording.Mode)
	}
	contentType, known := recording.Formats[format]
	if !known {
		writeProblem(w, http.StatusUnprocessableEntity, "unknown recording format", FieldError{"format", "must be one of mp4, webm, m4a, ogg"})
		return
	}
	key := recording.Key(b.ID, auth.Attempt, b.MeetingPlatform, format)
	p, err := s.Recordings.PresignUpload(r.Context(), key)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, botproto.RecordingUpload{Method: http.MethodPut, URL: p.URL, Key: key,
		ContentType: contentType, ExpiresAt: p.Expires})
}

func (s *Server) botRecordingComplete(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	var req botproto.RecordingComplete
	if !decodeBotBody(w, r, &req) {
		return
	}
	b, ok := s.recordingTarget(w, r, auth)
	if !ok {
		return
	}
	if _, ok := recording.ParseKey(req.Key, b.ID, auth.Attempt, b.MeetingPlatform); !ok {
		writeProblem(w, http.StatusUnprocessableEntity, "not this attempt's recording key",
			FieldError{"key", "must be the key POST " + botproto.PathRecording + " returned to this attempt"})
		return
	}
	obj, err := s.Recordings.Stat(r.Context(), req.Key)
	switch {
	case errors.Is(err, recording.ErrNotFound):
		writeProblem(w, http.StatusConflict, "no object at "+req.Key+"; upload it first")
		return
	case err != nil:
		s.internal(w, err)
		return
	case obj.Size == 0:
		writeProblem(w, http.StatusUnprocessableEntity, "the uploaded recording is empty", FieldError{"key", "the object has 0 bytes"})
		return
	}
	if _, err := s.Store.RecordingUploaded(r.Context(), auth, req.Key, obj.Size, s.Clock.Now()); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrStaleAttempt) {
			writeProblem(w, http.StatusConflict, err.Error())
			return
		}
		s.internal(w, err)
		return
	}
	s.Metrics.RecordingStored(obj.Size)
	s.Logger.Info("recording stored", zap.String("bot_id", b.ID.String()), zap.Int("attempt", auth.Attempt),
		zap.String("key", req.Key), zap.Int64("size_bytes", obj.Size))
	writeJSON(w, http.StatusOK, botproto.RecordingStored{Key: req.Key, SizeBytes: obj.Size})
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request, owner string) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	b, err := s.Store.GetBot(r.Context(), owner, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no such bot")
		return
	case err != nil:
		s.internal(w, err)
		return
	case b.RecordingKey == nil || s.Recordings == nil:
		writeProblem(w, http.StatusNotFound, "this bot has no recording")
		return
	}
	p, err := s.Recordings.PresignDownload(r.Context(), *b.RecordingKey)
	if err != nil {
		s.internal(w, err)
		return
	}
	v := RecordingView{URL: p.URL, ExpiresAt: p.Expires, Key: *b.RecordingKey, UploadedAt: *b.RecordingUploaded}
	if b.RecordingSize != nil {
		v.SizeBytes = *b.RecordingSize
	}
	v.ContentType = recording.ContentType(v.Key)
	writeJSON(w, http.StatusOK, v)
}
