package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// ControllerEvent is one event of the controller's to add to a bot's timeline.
type ControllerEvent struct {
	BotID      uuid.UUID
	Type       string
	Data       any
	OccurredAt time.Time
}

// AddBotEvents adds controller events to their bots' timelines in one
// statement (one round trip and one commit, however many): what records
// webhook deliveries at the rate they happen. An event of a bot deleted
// meanwhile is dropped, not an error: there is no timeline left to add to.
func (s *Store) AddBotEvents(ctx context.Context, events []ControllerEvent) error {
	if len(events) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(events))
	types := make([]string, len(events))
	data := make([]string, len(events))
	at := make([]time.Time, len(events))
	for i, e := range events {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return wrap("add events", err)
		}
		if e.Data == nil {
			b = []byte("{}")
		}
		ids[i], types[i], data[i], at[i] = e.BotID, e.Type, string(b), e.OccurredAt
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO bot_events (bot_id, type, data, occurred_at, created_at)
		SELECT e.bot_id, e.type, e.data::jsonb, e.at, e.at
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS e(bot_id, type, data, at)
		WHERE EXISTS (SELECT 1 FROM bots b WHERE b.id = e.bot_id)`, ids, types, data, at)
	return wrap("add events", err)
}
