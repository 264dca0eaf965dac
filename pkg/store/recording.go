package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordingUploaded records the verified recording of an attempt: the caller
// has sealed the object (recording.Storage.Seal) and key is the sealed copy.
// Recording the same key again is a no-op; another key once one is recorded,
// a terminal bot or a stale attempt is refused, so a bot cannot swap the
// recording a user may already be downloading.
func (s *Store) RecordingUploaded(ctx context.Context, auth BotAuth, key string, size int64, now time.Time) (Bot, error) {
	var bot Bot
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if bot, err = lockAttemptBotTx(ctx, tx, auth); err != nil {
			return err
		}
		switch {
		case bot.RecordingKey != nil && *bot.RecordingKey == key:
			return nil
		case bot.RecordingKey != nil:
			return fmt.Errorf("%w: the bot's recording is already stored at %s", ErrConflict, *bot.RecordingKey)
		case bot.Status.Terminal():
			return fmt.Errorf("%w: the bot is already %s", ErrConflict, bot.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE bots SET recording_key = $2, recording_size_bytes = $3,
				recording_uploaded_at = $4, updated_at = $4 WHERE id = $1`, bot.ID, key, size, now); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, bot.ID, "RECORDING_UPLOADED", map[string]any{"key": key, "size_bytes": size, "attempt": auth.Attempt}, now); err != nil {
			return err
		}
		bot, err = getBotTx(ctx, tx, bot.Owner, bot.ID)
		return err
	})
	return bot, wrap("recording uploaded", err)
}
