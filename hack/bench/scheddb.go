package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
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
