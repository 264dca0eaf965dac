package botsim

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/meeboter/meeboter/pkg/botproto"
)

const (
	testBotID     = "0b7c7c4e-2f5d-4c55-8d3b-0c1f7f0b9a01"
	testToken     = "per-attempt-secret"
	testSlotUUID  = "9a3e5c1d-7b2f-4d8e-a6c0-1f4b8d2e7a55"
	testSlotToken = "slot-secret"
)

// fakeController implements the controller side of botproto in memory.
type fakeController struct {
	mu          sync.Mutex
	cfg         botproto.Config
	statuses    []botproto.StatusRequest
	events      []botproto.Event
	heartbeats  int
	shouldLeave bool
	refuse      map[botproto.Status]bool
	// onStatus runs with mu held after a status is recorded.
	onStatus func(botproto.Status)
	// beforeStatus runs without mu before a status is handled, so it may
	// block while heartbeats keep being answered.
	beforeStatus func(botproto.Status)
	// botID and token are what bot endpoints accept (testBotID and
	// testToken unless a pool test hands out another attempt).
	botID, token string
	// assign answers the n-th (1-based) assignment request, with mu held;
	// a non-zero status is sent as a problem instead.
	assign      func(n int) (int, botproto.Assignment)
	assignCalls int
	// onAssign is signalled (without blocking) after each assignment answer.
	onAssign chan int
	// configProblem, when set, is the status config is refused with.
	configProblem int
}

func newFake() *fakeController {
	return &fakeController{cfg: botproto.Config{
		BotID: testBotID, Attempt: 1, MeetingPlatform: botproto.PlatformZoom, HeartbeatIntervalSeconds: 1,
	}, botID: testBotID, token: testToken, onAssign: make(chan int, 1000)}
}

func (f *fakeController) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == botproto.PathAssignment {
		f.serveAssignment(w, r)
		return
	}
	f.mu.Lock()
	botID, token := f.botID, f.token
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get(botproto.HeaderBotID) != botID {
		problem(w, http.StatusUnauthorized)
		return
	}
	var req botproto.StatusRequest
	if r.URL.Path == botproto.PathStatus {
		_ = json.NewDecoder(r.Body).Decode(&req)
		if f.beforeStatus != nil {
			f.beforeStatus(req.Status)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case botproto.PathConfig:
		if f.configProblem != 0 {
			problem(w, f.configProblem)
			return
		}
		reply(w, f.cfg)
	case botproto.PathHeartbeat:
		f.heartbeats++
		reply(w, botproto.HeartbeatResponse{ShouldLeave: f.shouldLeave})
	case botproto.PathStatus:
		if f.refuse[req.Status] {
			problem(w, http.StatusConflict)
			return
		}
		f.statuses = append(f.statuses, req)
		if f.onStatus != nil {
			f.onStatus(req.Status)
		}
		reply(w, botproto.StatusResponse{Status: req.Status})
	case botproto.PathEvents:
		var req botproto.EventsRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.events = append(f.events, req.Events...)
		reply(w, botproto.EventsResponse{Accepted: len(req.Events)})
	default:
		problem(w, http.StatusNotFound)
	}
}

func (f *fakeController) serveAssignment(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testSlotToken || r.Header.Get(botproto.HeaderPoolSlot) != testSlotUUID ||
		r.Header.Get(botproto.HeaderBotID) != "" {
		problem(w, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.assignCalls++
	n := f.assignCalls
	status, a := http.StatusOK, botproto.Assignment{RetryAfterSeconds: 1}
	if f.assign != nil {
		status, a = f.assign(n)
	}
	f.mu.Unlock()
	if status != 0 && status != http.StatusOK {
		problem(w, status)
	} else {
		reply(w, a)
	}
	select {
	case f.onAssign <- n:
	default:
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(botproto.Problem{Title: http.StatusText(status), Status: status})
}

func (f *fakeController) statusList() []botproto.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]botproto.Status, 0, len(f.statuses))
	for _, s := range f.statuses {
		out = append(out, s.Status)
	}
	return out
}

func (f *fakeController) heartbeatCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heartbeats
}

func (f *fakeController) leavingReason() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.statuses {
		if s.Status == botproto.StatusLeaving {
			return s.Reason
		}
	}
	return ""
}

func (f *fakeController) assignmentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assignCalls
}
