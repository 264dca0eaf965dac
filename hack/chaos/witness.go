package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// witness records every bot call that went through the proxy: per bot,
// per attempt token, when the controller first and last accepted a call.
// Two tokens of one bot accepted over the same seconds are two live
// workloads; calls long after a bot ended are a leaked one. It is an
// independent view, and the only one that sees which bot a Coolify slot
// container serves from the outside.
type witness struct {
	mu    sync.Mutex
	spans map[string]map[string]*span // bot id -> token hash -> accepted calls
	last  map[string]time.Time        // bot id -> last call, any answer
	codes map[string]int              // answers by class
}

// span is a token's first and last accepted call.
type span struct{ first, last time.Time }

func newWitness() *witness {
	return &witness{spans: map[string]map[string]*span{}, last: map[string]time.Time{}, codes: map[string]int{}}
}

// observe records a call after its answer.
func (w *witness) observe(r *http.Request, code int, at time.Time) {
	if !strings.HasPrefix(r.URL.Path, "/bot/v1/") {
		return
	}
	bot := r.Header.Get("X-Bot-Id")
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.codes[statusClass(code)]++
	if bot == "" || !ok {
		return // a pool slot asking for work
	}
	w.last[bot] = at
	if code/100 != 2 {
		return
	}
	sum := sha256.Sum256([]byte(tok))
	h := hex.EncodeToString(sum[:6])
	if w.spans[bot] == nil {
		w.spans[bot] = map[string]*span{}
	}
	if s := w.spans[bot][h]; s != nil {
		s.last = at
	} else {
		w.spans[bot][h] = &span{first: at, last: at}
	}
}

// overlapSlack is how long two tokens of one bot may both be accepted: a
// stopped attempt's last words while the next one starts.
const overlapSlack = 3 * time.Second

// duplicates lists the bots two of whose attempt tokens were accepted over
// the same stretch of time, longer than overlapSlack.
func (w *witness) duplicates() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for bot, byToken := range w.spans {
		if overlapping(byToken) {
			out = append(out, bot)
		}
	}
	return out
}

func overlapping(byToken map[string]*span) bool {
	list := make([]*span, 0, len(byToken))
	for _, s := range byToken {
		list = append(list, s)
	}
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			a, b := list[i], list[j]
			from, to := maxTime(a.first, b.first), minTime(a.last, b.last)
			if to.Sub(from) > overlapSlack {
				return true
			}
		}
	}
	return false
}

// lastCalls is each bot's last call through the proxy.
func (w *witness) lastCalls() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.last))
	for k, v := range w.last {
		out[k] = v
	}
	return out
}

// answers counts the bot calls by answer class.
func (w *witness) answers() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.codes))
	for k, v := range w.codes {
		out[k] = v
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
