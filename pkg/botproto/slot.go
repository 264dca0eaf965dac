package botproto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// SlotClient talks to the controller on behalf of a pool slot: a
// long-lived container that is handed one bot attempt after another. It
// authenticates with the slot token and HeaderPoolSlot, asks for its
// Assignment, and builds the per-attempt Client for each assigned bot. It
// follows the same retry rules as Client and is safe for concurrent use.
type SlotClient struct {
	c        *Client
	slotUUID string
	opts     []Option
}

// NewSlotClient returns a client for the controller at baseURL,
// authenticating as slotUUID with slotToken. opts also apply to the
// clients made by BotClient.
func NewSlotClient(baseURL, slotUUID, slotToken string, opts ...Option) *SlotClient {
	c := NewClient(baseURL, "", slotToken, opts...)
	c.idHeader, c.idValue = HeaderPoolSlot, slotUUID
	return &SlotClient{c: c, slotUUID: slotUUID, opts: opts}
}

// SlotUUID returns the slot the client authenticates as.
func (s *SlotClient) SlotUUID() string { return s.slotUUID }

// String keeps the slot token out of logs that format the client with %v.
func (s *SlotClient) String() string {
	return fmt.Sprintf("botproto.SlotClient{url=%s slot=%s}", s.c.baseURL, s.slotUUID)
}

// errIncompleteAssignment is an "assigned" answer the slot cannot act on.
var errIncompleteAssignment = errors.New("assigned without bot_id or token")

// Assignment asks what this slot should do now. A 401/403 (bad slot
// credentials) comes back as a *Problem and is not retried here; callers
// that must never give up (a slot container) wait and ask again.
func (s *SlotClient) Assignment(ctx context.Context) (*Assignment, error) {
	var out Assignment
	if err := s.c.do(ctx, http.MethodGet, PathAssignment, nil, &out); err != nil {
		return nil, err
	}
	if out.Assigned && (out.BotID == "" || out.Token == "") {
		return nil, fmt.Errorf("botproto: GET %s: %w", PathAssignment, errIncompleteAssignment)
	}
	return &out, nil
}

// BotClient returns the Client for an assigned bot attempt: same base URL
// and options, authenticated with the per-attempt token and HeaderBotID.
func (s *SlotClient) BotClient(botID, token string) *Client {
	return NewClient(s.c.baseURL, botID, token, s.opts...)
}
