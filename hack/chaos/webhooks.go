package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// hookReceiver is a customer's callback endpoint on loopback: it verifies
// every delivery's signature and keeps, per bot, the statuses it was told
// about (deduplicated on event_id, as pkg/webhook/README.md asks receivers to do).
type hookReceiver struct {
	url    string
	srv    *http.Server
	secret []byte

	mu         sync.Mutex
	statuses   map[string]map[string]bool // bot id -> statuses delivered
	seen       map[string]bool            // event ids
	deliveries int
	badSigs    int
}

func startHookReceiver(secret []byte) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + ln.Addr().String(), secret: secret,
		statuses: map[string]map[string]bool{}, seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *hookReceiver) close() { _ = h.srv.Close() }

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries++
	if webhook.Verify(h.secret, r.Header, body, time.Now(), 5*time.Minute) != nil {
		h.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var p struct {
		EventID string `json:"event_id"`
		BotID   string `json:"bot_id"`
		Status  string `json:"status"`
	}
	if json.Unmarshal(body, &p) != nil || p.BotID == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !h.seen[p.EventID] {
		h.seen[p.EventID] = true
		if h.statuses[p.BotID] == nil {
			h.statuses[p.BotID] = map[string]bool{}
		}
		h.statuses[p.BotID][p.Status] = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// delivered reports whether bot's status reached this receiver.
func (h *hookReceiver) delivered(bot, status string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statuses[bot][status]
}

// counts is deliveries received and how many had a bad signature.
func (h *hookReceiver) counts() (deliveries, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deliveries, h.badSigs
}
