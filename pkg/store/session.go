package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoSession means the session has no connection right now (it is
// reconnecting): nothing can be locked until it is back.
var ErrNoSession = errors.New("store: no database session")

// SessionConfig configures a Session.
type SessionConfig struct {
	// Conn is the connection configuration (a copy is used).
	Conn *pgx.ConnConfig
	// Identity is locked for the session's whole life: while this process
	// and its connection live, ReplicasAlive reports it alive.
	Identity string
	// PingInterval is how often the connection is checked (default 1 s): a
	// connection lost without a word is noticed within it.
	PingInterval time.Duration
	// OpTimeout bounds every call on the connection (default 5 s). A call
	// that times out closes the connection (its outcome is unknown), which
	// loses every lock: safe, never wrong.
	OpTimeout time.Duration
	// OnError, when set, hears about lost connections and failed reconnects.
	OnError func(error)
}

// Session is one dedicated Postgres connection holding session-level
// advisory locks. A lock lives exactly as long as the connection: when the
// process dies, Postgres ends its session and releases what it held at once
// (for a peer lost on the network, after the TCP keepalives set here, about
// 8 s), so nothing a dead replica held outlives it. When this process loses
// the connection, every lock taken on it is reported lost, and the session
// reconnects.
type Session struct {
	cfg SessionConfig

	mu   sync.Mutex
	conn *pgx.Conn
	lost chan struct{} // closed when conn is lost; a new one per connection

	ready     chan struct{} // closed once a first connection holds the identity
	readyOnce sync.Once
}

// NewSession prepares a session; Run connects it.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.Conn == nil {
		return nil, errors.New("store: session without a connection configuration")
	}
	if cfg.Identity == "" {
		return nil, errors.New("store: session without an identity")
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = time.Second
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	cc := cfg.Conn.Copy()
	cc.RuntimeParams["application_name"] = "meeboter " + cfg.Identity
	// The server's keepalives bound how long a peer lost on the network
	// keeps its locks: 5 s idle, then 3 probes 1 s apart.
	cc.RuntimeParams["tcp_keepalives_idle"] = "5"
	cc.RuntimeParams["tcp_keepalives_interval"] = "1"
	cc.RuntimeParams["tcp_keepalives_count"] = "3"
	cfg.Conn = cc
	closed := make(chan struct{})
	close(closed)
	return &Session{cfg: cfg, lost: closed, ready: make(chan struct{})}, nil
}

// Ready is closed once the session first holds its identity.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Run keeps the session connected until ctx ends, then closes it (releasing
// every lock).
func (s *Session) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := s.connect(ctx); err != nil {
			s.report(fmt.Errorf("store: session %s: connect: %w", s.cfg.Identity, err))
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.readyOnce.Do(func() { close(s.ready) })
		s.watch(ctx)
	}
	s.drop(nil)
}

// connect opens a connection and takes the identity lock on it. The
// identity may still be held by this replica's previous incarnation if
// Postgres has not noticed its end yet; connect then fails, and Run retries.
func (s *Session) connect(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.cfg.Conn)
	if err != nil {
		return err
	}
	var ok bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, identityKey(s.cfg.Identity)).Scan(&ok); err != nil || !ok {
		_ = conn.Close(context.Background())
		if err == nil {
			err = fmt.Errorf("identity %q is held by another live session", s.cfg.Identity)
		}
		return err
	}
	s.mu.Lock()
	s.conn, s.lost = conn, make(chan struct{})
	s.mu.Unlock()
	return nil
}

// watch pings the connection until it fails or ctx ends.
func (s *Session) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.do(func(ctx context.Context, c *pgx.Conn) error { return c.Ping(ctx) }); err != nil {
			if !errors.Is(err, ErrNoSession) {
				s.report(fmt.Errorf("store: session %s lost: %w", s.cfg.Identity, err))
			}
			return
		}
	}
}

// do runs fn on the connection under the lock; an error of the connection
// itself drops it.
func (s *Session) do(fn func(context.Context, *pgx.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return ErrNoSession
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
	defer cancel()
	err := fn(ctx, s.conn)
	if err != nil && (s.conn.IsClosed() || ctx.Err() != nil) {
		s.dropLocked()
	}
	return err
}

// drop closes the connection: every lock on it is released and lost.
func (s *Session) drop(_ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked()
}

func (s *Session) dropLocked() {
	if s.conn == nil {
		return
	}
	// Lost first: whoever holds a lock hears of it before Postgres can give
	// it to anyone else.
	close(s.lost)
	_ = s.conn.Close(context.Background())
	s.conn = nil
}

func (s *Session) report(err error) {
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

// Lock is one advisory lock held by a session.
type Lock struct {
	s    *Session
	name string
	lost chan struct{}
}

// TryLock takes the advisory lock name without waiting; ok is false when
// another session holds it.
func (s *Session) TryLock(name string) (l *Lock, ok bool, err error) {
	err = s.do(func(ctx context.Context, c *pgx.Conn) error {
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&ok); err != nil {
			return err
		}
		if ok {
			l = &Lock{s: s, name: name, lost: s.lost}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return l, ok, nil
}

// Lost is closed when the lock is lost with its session's connection.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release gives the lock up. A lock already lost with its connection is
// released already.
func (l *Lock) Release() {
	s := l.s
	_ = s.do(func(ctx context.Context, c *pgx.Conn) error {
		if s.lost != l.lost {
			return nil // a later connection: this lock died with the old one
		}
		_, err := c.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.name)
		return err
	})
}

// identityKey is the lock name of a session identity.
func identityKey(identity string) string { return "meeboter-session:" + identity }

// ReplicasAlive reports which of the identities a live session holds (from
// pg_locks: looking does not take the lock, so it never gets in the way of
// a replica starting).
func (s *Store) ReplicasAlive(ctx context.Context, identities []string) (map[string]bool, error) {
	alive := make(map[string]bool, len(identities))
	rows, _ := s.pool.Query(ctx, `SELECT i FROM unnest($1::text[]) AS i
		WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.classid = ((hashtextextended('meeboter-session:' || i, 0) >> 32) & 4294967295)::oid
			AND l.objid = (hashtextextended('meeboter-session:' || i, 0) & 4294967295)::oid)`, identities)
	var id string
	_, err := pgx.ForEachRow(rows, []any{&id}, func() error { alive[id] = true; return nil })
	return alive, wrap("replicas alive", err)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
