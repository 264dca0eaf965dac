package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/store"
)

const tenantsUsage = "meeboter tenants limits [<tenant> [--rate R] [--burst B] [--max-bots N] [--reset]]"

// tenantsCommand shows and sets per-tenant limits in the database: with no
// tenant every tenant, with flags the tenant's stored limits change.
func tenantsCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "limits" {
		return &usageError{msg: "want limits", usage: tenantsUsage}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	def := store.Limits{RatePerSecond: cfg.Tenants.RatePerSecond, RateBurst: cfg.Tenants.RateBurst, MaxBots: cfg.Tenants.MaxBots}
	args = args[1:]
	tenant := ""
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		tenant, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("tenants limits", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var change limitsChange
	fs.Func("rate", "requests per second per API key (0: none; default: the environment's)", change.set(&change.rate))
	fs.Func("burst", "token bucket size per API key (0: none; default: the environment's)", change.set(&change.burst))
	fs.Func("max-bots", "cap on unfinished bots (0: none; default: the environment's)", change.set(&change.maxBots))
	reset := fs.Bool("reset", false, "forget the tenant's own limits: back to the environment's")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error(), usage: tenantsUsage}
	}
	if fs.NArg() > 0 || (tenant == "" && (change.any() || *reset)) {
		return &usageError{msg: "flags need one tenant, given first", usage: tenantsUsage}
	}
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	return tenantLimits(ctx, store.New(pool, nil), tenant, change, *reset, def, stdout)
}

func tenantLimits(ctx context.Context, st *store.Store, tenant string, change limitsChange, reset bool,
	def store.Limits, stdout io.Writer) error {
	if tenant == "" {
		all, err := st.ListTenantLimits(ctx)
		if err != nil {
			return err
		}
		return printLimits(stdout, all, def)
	}
	t, err := st.TenantLimits(ctx, tenant)
	if err != nil {
		return err
	}
	if reset {
		t = store.TenantLimits{Owner: tenant}
	}
	if change.any() || reset {
		if t, err = change.apply(t); err != nil {
			return err
		}
		if err := st.SetTenantLimits(ctx, t, time.Now()); err != nil {
			return err
		}
	}
	return printLimits(stdout, []store.TenantLimits{t}, def)
}

// limitsChange holds the flags given; "default" clears a stored value.
type limitsChange struct {
	rate, burst, maxBots *string
}

func (c *limitsChange) set(field **string) func(string) error {
	return func(v string) error { *field = &v; return nil }
}

func (c limitsChange) any() bool { return c.rate != nil || c.burst != nil || c.maxBots != nil }

func (c limitsChange) apply(t store.TenantLimits) (store.TenantLimits, error) {
	if c.rate != nil {
		if *c.rate == "default" {
			t.RatePerSecond = nil
		} else if f, err := strconv.ParseFloat(*c.rate, 64); err != nil || !(f >= 0 && f < 1e9) {
			return t, &usageError{msg: fmt.Sprintf("--rate: want a number >= 0 or default, got %q", *c.rate), usage: tenantsUsage}
		} else {
			t.RatePerSecond = &f
		}
	}
	var err error
	if t.RateBurst, err = parseCount("--burst", c.burst, t.RateBurst); err != nil {
		return t, err
	}
	t.MaxBots, err = parseCount("--max-bots", c.maxBots, t.MaxBots)
	return t, err
}

// parseCount is a non-negative count flag's new stored value.
func parseCount(name string, v *string, old *int) (*int, error) {
	switch {
	case v == nil:
		return old, nil
	case *v == "default":
		return nil, nil
	}
	n, err := strconv.Atoi(*v)
	if err != nil || n < 0 {
		return nil, &usageError{msg: fmt.Sprintf("%s: want an integer >= 0 or default, got %q", name, *v), usage: tenantsUsage}
	}
	return &n, nil
}

// printLimits shows each tenant's effective limits, marking those that
// come from the environment.
func printLimits(stdout io.Writer, ts []store.TenantLimits, def store.Limits) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tRATE_PER_SECOND\tBURST\tMAX_BOTS")
	for _, t := range ts {
		eff := t.Resolve(def)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Owner,
			limitCell(strconv.FormatFloat(eff.RatePerSecond, 'g', -1, 64), eff.RatePerSecond == 0, t.RatePerSecond == nil),
			limitCell(strconv.Itoa(eff.RateBurst), eff.RateBurst == 0, t.RateBurst == nil),
			limitCell(strconv.Itoa(eff.MaxBots), eff.MaxBots == 0, t.MaxBots == nil))
	}
	return tw.Flush()
}

func limitCell(v string, none, fromDefault bool) string {
	if none {
		v = "none"
	}
	if fromDefault {
		v += " (default)"
	}
	return v
}
