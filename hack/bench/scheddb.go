package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schedDatabase is the scheduled scenario's own database, on the server
// the bench uses, so the other parts' bots do not count.
const schedDatabase = "meeboter_bench_scheduled"

// freshDatabase (re)creates the database name on the server adminURL
// points at and returns its URL and how to drop it.
func freshDatabase(ctx context.Context, adminURL, name string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		return "", nil, fmt.Errorf("database URL must be a postgres:// URL to create %s next to it", name)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// processDatabase is the database of a part that runs `meeboter serve` as
// a process: made afresh as name, migrated by the binary, with an API key
// and a pool for the part's own reads.
type processDatabase struct {
	url, apiKey string
	pool        *pgxpool.Pool
}

// newProcessDatabase makes it; what must be undone is added to cleanup,
// also on error.
func newProcessDatabase(ctx context.Context, bin, adminURL, name string, cleanup *[]func()) (processDatabase, error) {
	var d processDatabase
	dbURL, drop, err := freshDatabase(ctx, adminURL, name)
	if err != nil {
		return d, err
	}
	*cleanup = append(*cleanup, drop)
	if _, err := meeboterCmd(ctx, bin, dbURL, "migrate"); err != nil {
		return d, err
	}
	if d.apiKey, err = createAPIKey(ctx, bin, dbURL); err != nil {
		return d, err
	}
	if d.pool, err = pgxpool.New(ctx, dbURL); err != nil {
		return d, err
	}
	*cleanup = append(*cleanup, d.pool.Close)
	d.url = dbURL
	return d, nil
}
