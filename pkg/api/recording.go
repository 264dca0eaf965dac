package api

import (
	"context"
	"errors"
	"net/http"
	"path"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
)

// Recordings is the recordings bucket; nil when S3 is not configured.
// Bots write upload keys; users read only sealed copies (Seal), which no
// URL can write: see package recording.
type Recordings interface {
	PresignUpload(ctx context.Context, key string) (recording.Presigned, error)
	PresignDownload(ctx context.Context, key string) (recording.Presigned, error)
	Seal(ctx context.Context, uploadKey string) (recording.Object, error)
	Remove(ctx context.Context, key string) error
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
	key := recording.UploadKey(b.ID, auth.Attempt, b.MeetingPlatform, format)
	p, err := s.Recordings.PresignUpload(r.Context(), key)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, botproto.RecordingUpload{Method: http.MethodPut, URL: p.URL, Key: key,
		ContentType: contentType, ExpiresAt: p.Expires})
}

// botRecordingComplete verifies the upload and seals it: users get a copy
// the bot cannot write, so re-using the upload URL changes nothing they see.
func (s *Server) botRecordingComplete(w http.ResponseWriter, r *http.Request, auth store.BotAuth) {
	var req botproto.RecordingComplete
	if !decodeBotBody(w, r, &req) {
		return
	}
	b, ok := s.recordingTarget(w, r, auth)
	if !ok {
		return
	}
	if _, ok := recording.ParseUploadKey(req.Key, b.ID, auth.Attempt, b.MeetingPlatform); !ok {
		writeProblem(w, http.StatusUnprocessableEntity, "not this attempt's recording key",
			FieldError{"key", "must be the key POST " + botproto.PathRecording + " returned to this attempt"})
		return
	}
	if b.RecordingKey != nil {
		// Sealed already: a retry gets the same answer; nothing is copied
		// again, whatever the upload key now holds.
		if path.Base(*b.RecordingKey) != path.Base(req.Key) || b.RecordingSize == nil {
			writeProblem(w, http.StatusConflict, "this bot's recording is already stored at "+*b.RecordingKey)
			return
		}
		writeJSON(w, http.StatusOK, botproto.RecordingStored{Key: *b.RecordingKey, SizeBytes: *b.RecordingSize})
		return
	}
	obj, ok := s.sealRecording(w, r, req.Key)
	if !ok {
		return
	}
	if _, err := s.Store.RecordingUploaded(r.Context(), auth, obj.Key, obj.Size, s.Clock.Now()); err != nil {
		s.removeObject(r.Context(), obj.Key) // nobody will serve this copy
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrStaleAttempt) {
			writeProblem(w, http.StatusConflict, err.Error())
			return
		}
		s.internal(w, err)
		return
	}
	s.removeObject(r.Context(), req.Key)
	s.Metrics.RecordingStored(obj.Size)
	s.Logger.Info("recording stored", zap.String("bot_id", b.ID.String()), zap.Int("attempt", auth.Attempt),
		zap.String("key", obj.Key), zap.Int64("size_bytes", obj.Size))
	writeJSON(w, http.StatusOK, botproto.RecordingStored{Key: obj.Key, SizeBytes: obj.Size})
}

// sealRecording copies the upload to its sealed key, answering the bot's
// mistakes with a 4xx.
func (s *Server) sealRecording(w http.ResponseWriter, r *http.Request, key string) (recording.Object, bool) {
	obj, err := s.Recordings.Seal(r.Context(), key)
	switch {
	case errors.Is(err, recording.ErrNotFound):
		writeProblem(w, http.StatusConflict, "no object at "+key+"; upload it first")
	case errors.Is(err, recording.ErrChanged):
		writeProblem(w, http.StatusConflict, "the object at "+key+" changed while it was being verified; complete again once the upload is finished")
	case errors.Is(err, recording.ErrEmpty):
		writeProblem(w, http.StatusUnprocessableEntity, "the uploaded recording is empty", FieldError{"key", "the object has 0 bytes"})
	case err != nil:
		s.internal(w, err)
	default:
		return obj, true
	}
	return recording.Object{}, false
}

// removeObject deletes key, best effort: a leftover upload or copy is
// served to nobody, and RECORDING_RETENTION_DAYS expires it with the rest.
func (s *Server) removeObject(ctx context.Context, key string) {
	if err := s.Recordings.Remove(context.WithoutCancel(ctx), key); err != nil {
		s.Logger.Warn("recording: could not remove an unserved object", zap.String("key", key), zap.Error(err))
	}
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
