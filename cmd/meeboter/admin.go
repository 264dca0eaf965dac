package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meeboter/meeboter/cmd/meeboter/app"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/version"
)

func printVersion(stdout io.Writer) error {
	_, err := fmt.Fprintln(stdout, "meeboter", version.Version)
	return err
}

// connect opens the database named by DATABASE_URL.
func connect(ctx context.Context, getenv func(string) string) (*pgxpool.Pool, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	// A command needs a connection or two, not the server's pool.
	pool, err := app.OpenDatabase(ctx, cfg, 4)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database: %w", err)
	}
	return pool, nil
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated: river versions %v, meeboter %v\n", res.RiverApplied, res.Applied)
	return nil
}

func apikey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want create, list or revoke")
	}
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool, nil) // key management wakes no reconciler
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
		owner := fs.String("owner", "", "tenant that owns the key's bots (required)")
		name := fs.String("name", "", "label for the key")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *owner == "" {
			return errors.New("--owner is required")
		}
		secret, key, err := st.CreateAPIKey(ctx, *owner, *name, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id: %s\nowner: %s\nkey: %s\n(store the key now: it is not shown again)\n", key.ID, key.Owner, secret)
		return printFirstWebhookSecret(ctx, st, key.Owner, stdout)
	case "list":
		keys, err := st.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tOWNER\tNAME\tPREFIX\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\n", k.ID, k.Owner, k.Name, k.Prefix, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return errors.New("usage: apikey revoke <id>")
		}
		id, err := uuid.Parse(args[1])
		if err != nil {
			return fmt.Errorf("not a key id: %q", args[1])
		}
		if err := st.RevokeAPIKey(ctx, id, time.Now()); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked", id)
		return nil
	}
	return fmt.Errorf("unknown apikey command %q", args[0])
}
