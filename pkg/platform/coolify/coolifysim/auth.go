package coolifysim

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Causes a Workload's context is cancelled with.
var (
	// ErrStopped: the container is being stopped (API stop, delete, rolling
	// update); a process gets SIGTERM, then SIGKILL after the grace period.
	ErrStopped = errors.New("coolifysim: container stopped")
	// ErrCrashed: the container was killed (CrashContainer); a process gets
	// SIGKILL at once.
	ErrCrashed = fmt.Errorf("coolifysim: container crashed: %w", simcontainer.ErrKilled)
	// ErrVanished: the container disappeared (VanishContainer); SIGKILL.
	ErrVanished = fmt.Errorf("coolifysim: container vanished: %w", simcontainer.ErrKilled)
	errClosed   = errors.New("coolifysim: simulator closed")
)

// authenticated is Sanctum's token check. Laravel's bearerToken() takes what
// follows the last "Bearer " up to a comma; Sanctum accepts "<id>|<secret>"
// and, looking a token without "|" up by its hash, the bare secret too.
func (s *Sim) authenticated(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	i := strings.LastIndex(h, "Bearer ")
	if i < 0 {
		return false
	}
	tok, _, _ := strings.Cut(h[i+len("Bearer "):], ",")
	if tok == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
		return true
	}
	_, secret, hasID := strings.Cut(s.cfg.Token, "|")
	return hasID && !strings.Contains(tok, "|") && subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) == 1
}

// throttled is Laravel's ThrottleRequests for the "api" limiter: a 429 storm
// or an exhausted bucket answers 429 without running next; otherwise next
// runs and the reply carries X-RateLimit-* headers.
func (s *Sim) throttled(key string, next func() reply) reply {
	now := s.now()
	if now.Before(s.knobs.stormUntil) {
		limit := s.limiter.max
		if limit == 0 {
			limit = 200
		}
		return s.tooManyAttempts(now, limit, s.knobs.stormUntil.Sub(now))
	}
	if s.limiter.max == 0 {
		return next()
	}
	if wait, ok := s.limiter.tooMany(key, now); !ok {
		return s.tooManyAttempts(now, s.limiter.max, wait)
	}
	s.limiter.hit(key, now)
	rep := next()
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rep.header.Set("X-RateLimit-Limit", strconv.Itoa(s.limiter.max))
	rep.header.Set("X-RateLimit-Remaining", strconv.Itoa(s.limiter.remaining(key)))
	return rep
}

func (s *Sim) tooManyAttempts(now time.Time, limit int, wait time.Duration) reply {
	s.stats.throttled++
	secs := max(1, int(math.Ceil(wait.Seconds())))
	rep := reply{status: http.StatusTooManyRequests, body: map[string]any{"message": "Too Many Attempts."}, kind: byFramework}
	rep.header = http.Header{}
	rep.header.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	rep.header.Set("X-RateLimit-Remaining", "0")
	rep.header.Set("Retry-After", strconv.Itoa(secs))
	rep.header.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Duration(secs)*time.Second).Unix(), 10))
	return rep
}

// withFaults runs a controller with the injected faults: failing list calls
// and the error rate answer 500 before anything happens; the "after" error
// rate lets the call take effect and loses its answer, as a proxy timeout or
// a crash after commit would.
func (s *Sim) withFaults(rt *route, rq *request) reply {
	if rt.handle == nil {
		return notFound()
	}
	if rt.pattern == "/applications" && s.knobs.failLists > 0 {
		s.knobs.failLists--
		s.stats.injected++
		return serverError()
	}
	if p := s.knobs.errorRate; p > 0 && s.rng.Float64() < p {
		s.stats.injected++
		return serverError()
	}
	stop := s.stopBefore(rt, rq)
	rep := rt.handle(s, rq)
	s.recordStop(stop, rep)
	if p := s.knobs.errorAfterRate; p > 0 && s.rng.Float64() < p {
		s.stats.injected++
		return serverError()
	}
	return rep
}

// limiter is Laravel's RateLimiter with Limit::perMinute(max): a bucket's
// window opens at its first hit and lasts a minute; once max hits are in,
// calls are refused until the window closes.
type limiter struct {
	max     int
	buckets map[string]*bucket
}

type bucket struct {
	hits    int
	resetAt time.Time
}

const rateWindow = time.Minute

func newLimiter(perMinute int) *limiter {
	return &limiter{max: perMinute, buckets: map[string]*bucket{}}
}

// live returns key's bucket if its window is still open.
func (l *limiter) live(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b != nil && !now.Before(b.resetAt) {
		delete(l.buckets, key)
		return nil
	}
	return b
}

// tooMany reports whether a call may go through; if not, how long to wait.
func (l *limiter) tooMany(key string, now time.Time) (time.Duration, bool) {
	b := l.live(key, now)
	if b == nil || b.hits < l.max {
		return 0, true
	}
	return b.resetAt.Sub(now), false
}

func (l *limiter) hit(key string, now time.Time) {
	b := l.live(key, now)
	if b == nil {
		b = &bucket{resetAt: now.Add(rateWindow)}
		l.buckets[key] = b
	}
	b.hits++
}

func (l *limiter) remaining(key string) int {
	if b := l.buckets[key]; b != nil {
		return max(0, l.max-b.hits)
	}
	return l.max
}
