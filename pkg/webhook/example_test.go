package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// A receiver: read the raw body, verify it, then decode it. Deliveries are
// at least once, so a real receiver also deduplicates on EventID.
func ExampleVerify() {
	secret := []byte("whsec_your_endpoint_secret")

	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		fmt.Println(p.EventID, p.Type, p.BotID, p.Status)
		w.WriteHeader(http.StatusNoContent)
	}

	// Deliver one event to it, as the controller does.
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	body, _ := json.Marshal(webhook.Payload{
		EventID:    "evt_1",
		Type:       webhook.TypeStatusChanged,
		BotID:      "bot_1",
		Status:     "IN_CALL",
		OccurredAt: time.Now(),
		Bot:        json.RawMessage(`{"id":"bot_1","status":"IN_CALL"}`),
	})
	// The receiver is on loopback, which only an allow-list opens.
	local, _ := webhook.ParseDestinations("127.0.0.0/8")
	res, err := (&webhook.Sender{Secret: secret, Destinations: local}).Send(context.Background(), srv.URL, body)
	fmt.Println(res.StatusCode, err)
	// Output:
	// evt_1 bot.status_changed bot_1 IN_CALL
	// 204 <nil>
}
