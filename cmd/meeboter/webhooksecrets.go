package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// webhookSecretCommand manages tenants' webhook signing secrets: list them
// (without values) or rotate one, the new secret printed once.
func webhookSecretCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		return errors.New("want list or rotate")
	}
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool, nil)
	if args[0] == "list" {
		return listWebhookSecrets(ctx, st, stdout)
	}
	fs := flag.NewFlagSet("webhook-secret rotate", flag.ContinueOnError)
	owner := fs.String("owner", "", "tenant whose secret to rotate (required)")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long the old secret keeps signing beside the new one")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *owner == "" || *overlap < 0 {
		return errors.New("--owner is required and --overlap must not be negative")
	}
	secret := webhook.NewSecret()
	now := time.Now()
	if err := st.RotateWebhookSecret(ctx, *owner, secret, *overlap, now); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "owner: %s\nwebhook secret: %s\n(store it now: it is not shown again; the old one signs until %s)\n",
		*owner, secret, now.Add(*overlap).UTC().Format(time.RFC3339))
	return nil
}

func listWebhookSecrets(ctx context.Context, st *store.Store, stdout io.Writer) error {
	secrets, err := st.WebhookSecrets(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OWNER\tID\tCREATED\tEXPIRES")
	for _, s := range secrets {
		expires := "-"
		if s.ExpiresAt != nil {
			expires = s.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Owner, s.ID, s.CreatedAt.UTC().Format(time.RFC3339), expires)
	}
	return tw.Flush()
}

// printFirstWebhookSecret gives a tenant whose first key this is its
// signing secret, and shows it once.
func printFirstWebhookSecret(ctx context.Context, st *store.Store, owner string, stdout io.Writer) error {
	secret := webhook.NewSecret()
	created, err := st.EnsureWebhookSecret(ctx, owner, secret, time.Now())
	if err != nil || !created {
		return err
	}
	fmt.Fprintf(stdout, "webhook secret: %s\n(it signs this tenant's callbacks; store it now: it is not shown again)\n", secret)
	return nil
}
