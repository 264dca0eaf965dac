package main

import (
	"context"
	"flag"
	"io"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/cmd/meeboter/app"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/version"
)

// serve runs the controller and the API (package app builds them).
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	doMigrate := fs.Bool("migrate", false, "apply migrations before serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	log.Info("starting meeboter", zap.String("version", version.Version), zap.String("platform", cfg.Platform),
		zap.String("platform_reason", cfg.PlatformReason), zap.String("http_addr", cfg.HTTPAddr))

	pool, err := app.OpenDatabase(ctx, cfg, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if *doMigrate {
		res, err := store.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		log.Info("migrated", zap.Ints("river", res.RiverApplied), zap.Strings("meeboter", res.Applied))
	}
	return app.Run(ctx, cfg, pool, log)
}
