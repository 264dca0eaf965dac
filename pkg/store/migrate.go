package store

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/meeboter/meeboter/migrations"
)

// MigrateResult says what Migrate applied.
type MigrateResult struct {
	Applied      []string
	RiverApplied []int
}

// Migrate applies River's schema and then the project's embedded migrations,
// each project file in its own transaction, under an advisory lock so that
// replicas starting together do not race.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (MigrateResult, error) {
	var res MigrateResult
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	rres, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range rres.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return res, err
	}
	sort.Strings(names)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Release()
	const lockID = 0x6d65_6562 // "meeb"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return res, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS meeboter_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return res, err
	}
	for _, name := range names {
		applied, err := applyMigration(ctx, conn.Conn(), name)
		if err != nil {
			return res, fmt.Errorf("migration %s: %w", name, err)
		}
		if applied {
			res.Applied = append(res.Applied, strings.TrimSuffix(name, ".up.sql"))
		}
	}
	return res, nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM meeboter_migrations WHERE name = $1)`, name).Scan(&exists); err != nil {
		return false, err
	}
	if exists {
		return false, nil
	}
	sql, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO meeboter_migrations (name) VALUES ($1)`, name)
		return err
	})
	return err == nil, err
}
