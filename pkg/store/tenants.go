package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Limits are a tenant's effective limits; 0 means none.
type Limits struct {
	// RatePerSecond and RateBurst shape each API key's token bucket.
	RatePerSecond float64
	RateBurst     int
	// MaxBots caps the tenant's unfinished bots (scheduled, queued and live).
	MaxBots int
}

// TenantLimits is what is stored for one tenant (an API key's owner); a nil
// field follows the default.
type TenantLimits struct {
	Owner         string    `db:"owner"`
	RatePerSecond *float64  `db:"rate_per_second"`
	RateBurst     *int      `db:"rate_burst"`
	MaxBots       *int      `db:"max_bots"`
	UpdatedAt     time.Time `db:"updated_at"`
}

// Resolve is the effective limits: the stored ones over def.
func (t TenantLimits) Resolve(def Limits) Limits {
	if t.RatePerSecond != nil {
		def.RatePerSecond = *t.RatePerSecond
	}
	if t.RateBurst != nil {
		def.RateBurst = *t.RateBurst
	}
	if t.MaxBots != nil {
		def.MaxBots = *t.MaxBots
	}
	return def
}

// ErrOverCap is the tenant's cap on unfinished bots being reached.
var ErrOverCap = errors.New("tenant bot cap reached")

// CapError says which cap a create would exceed.
type CapError struct {
	Owner      string
	Cap        int
	Unfinished int
}

func (e *CapError) Error() string {
	return fmt.Sprintf("tenant %q has %d unfinished bots (scheduled, queued or live); its cap (max_bots) is %d",
		e.Owner, e.Unfinished, e.Cap)
}

// Unwrap makes a CapError an ErrOverCap.
func (e *CapError) Unwrap() error { return ErrOverCap }

// TenantLimits returns owner's stored limits (all nil when none are stored).
func (s *Store) TenantLimits(ctx context.Context, owner string) (TenantLimits, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM tenant_limits WHERE owner = $1`, owner)
	t, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[TenantLimits])
	if errors.Is(err, pgx.ErrNoRows) {
		return TenantLimits{Owner: owner}, nil
	}
	return t, wrap("tenant limits", err)
}

// ListTenantLimits returns every tenant, by name: those with API keys and
// those with stored limits.
func (s *Store) ListTenantLimits(ctx context.Context) ([]TenantLimits, error) {
	rows, _ := s.pool.Query(ctx, `SELECT o.owner, l.rate_per_second, l.rate_burst, l.max_bots,
			COALESCE(l.updated_at, 'epoch') AS updated_at
		FROM (SELECT owner FROM api_keys UNION SELECT owner FROM tenant_limits) o
		LEFT JOIN tenant_limits l USING (owner) ORDER BY o.owner`)
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByName[TenantLimits])
	return ts, wrap("list tenant limits", err)
}

// SetTenantLimits stores t as its owner's limits, replacing what was
// stored; a row whose fields are all nil is removed (back to the defaults).
func (s *Store) SetTenantLimits(ctx context.Context, t TenantLimits, now time.Time) error {
	if t.RatePerSecond == nil && t.RateBurst == nil && t.MaxBots == nil {
		_, err := s.pool.Exec(ctx, `DELETE FROM tenant_limits WHERE owner = $1`, t.Owner)
		return wrap("reset tenant limits", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tenant_limits (owner, rate_per_second, rate_burst, max_bots, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner) DO UPDATE SET rate_per_second = $2, rate_burst = $3,
			max_bots = $4, updated_at = $5`, t.Owner, t.RatePerSecond, t.RateBurst, t.MaxBots, now)
	return wrap("set tenant limits", err)
}

// checkCapTx refuses a create that would take owner's unfinished bots
// beyond its cap (def unless stored). Creates of one tenant serialise on an
// advisory lock only when a cap applies, so concurrent creates cannot both
// see room for one bot; uncapped tenants keep creating in parallel.
func checkCapTx(ctx context.Context, tx pgx.Tx, owner string, def int) error {
	var limit int
	if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT max_bots FROM tenant_limits WHERE owner = $1), $2)`,
		owner, def).Scan(&limit); err != nil || limit <= 0 {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('meeboter-tenant-cap:' || $1, 0))`, owner); err != nil {
		return err
	}
	var n int
	// A cancelled bot not admitted yet will never run: it no longer counts.
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM bots WHERE owner = $1 AND status NOT IN ('DONE', 'FATAL')
		AND NOT (desired = 'STOPPED' AND status IN ('SCHEDULED', 'QUEUED'))`, owner).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return &CapError{Owner: owner, Cap: limit, Unfinished: n}
	}
	return nil
}
