package botsim

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
)

// defaultRecordingBytes is the size of a simulated recording: big enough
// that an upload takes a real round trip, small enough for tests.
const defaultRecordingBytes = 3 << 20

// errUploadFailed ends a meeting whose recording could not be stored.
var errUploadFailed = errors.New("recording_upload_failed")

// uploadAttempts bounds retries of a failed PUT (a reset connection, a 5xx).
const uploadAttempts = 3

// recordAndUpload stores the meeting's recording the way a real bot does:
// ask for the presigned URL, PUT the file, have the controller verify it.
// Heartbeats go on meanwhile, so a long upload is not taken for a dead bot.
func (s *Simulator) recordAndUpload(ctx context.Context, cfg *botproto.Config, set Settings) error {
	if !cfg.Recording.Enabled {
		return nil
	}
	if !set.NoHeartbeat {
		beatCtx, stop := context.WithCancel(ctx)
		defer stop()
		go s.keepBeating(beatCtx, s.beatEvery)
	}
	up, err := s.API.RecordingUpload(ctx, botproto.RecordingRequest{})
	if err != nil {
		return fmt.Errorf("asking for the upload URL: %w", err)
	}
	size := set.RecordingBytes
	if size == 0 {
		size = defaultRecordingBytes
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err = UploadRecording(ctx, s.HTTP, up, size, seedOf(cfg.BotID, cfg.Attempt))
		if err == nil || attempt == uploadAttempts || ctx.Err() != nil {
			break
		}
		s.Log.Warn("recording upload failed; retrying", "attempt", attempt, "err", err)
	}
	if err != nil {
		s.Log.Error("recording upload failed", "err", err)
		return errUploadFailed
	}
	took := time.Since(start)
	stored, err := s.API.RecordingComplete(ctx, up.Key)
	if err != nil {
		return fmt.Errorf("completing the recording: %w", err)
	}
	s.Log.Info("recording uploaded", "key", stored.Key, "bytes", stored.SizeBytes, "took", took,
		"mb_per_s", float64(stored.SizeBytes)/1e6/max(took.Seconds(), 1e-9))
	return nil
}

// keepBeating heartbeats, ignoring should_leave (the bot is leaving).
func (s *Simulator) keepBeating(ctx context.Context, every time.Duration) {
	for s.Sleep(ctx, every) == nil {
		if _, err := s.API.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("heartbeat failed", "err", err)
		}
	}
}

// UploadRecording PUTs size bytes of generated media-like noise (the same
// bytes for the same seed) to a presigned upload, streaming: memory stays
// flat whatever the size.
func UploadRecording(ctx context.Context, client *http.Client, up *botproto.RecordingUpload, size int64, seed uint64) error {
	if client == nil {
		client = http.DefaultClient
	}
	body := io.LimitReader(rand.NewChaCha8(seedBytes(seed)), size)
	req, err := http.NewRequestWithContext(ctx, cmp.Or(up.Method, http.MethodPut), up.URL, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if up.ContentType != "" {
		req.Header.Set("Content-Type", up.ContentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("PUT %s: %s: %s", up.Key, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

func seedOf(botID string, attempt int) uint64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%d", botID, attempt)
	return h.Sum64()
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	return b
}
