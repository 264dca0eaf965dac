package pgtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// templateSetupTimeout bounds a template's setup (typically migrations).
const templateSetupTimeout = 5 * time.Minute

// template is one template database, built at most once per process.
type template struct {
	once   sync.Once
	dbName string // unique per process: binaries may share a server
	err    error
}

var (
	templatesMu sync.Mutex
	templates   = map[string]*template{}
)

func lookupTemplate(name string) *template {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	tmpl, ok := templates[name]
	if !ok {
		tmpl = &template{dbName: uniqueName("tmpl", name)}
		templates[name] = tmpl
	}
	return tmpl
}

// EnsureTemplate builds the template database called name the first time it
// is called in this process, by running setup against an empty database,
// and returns the outcome of that build on every call. setup must close its
// connections before returning (a template cannot be copied while in use);
// any it leaves open are terminated.
func EnsureTemplate(name string, setup func(ctx context.Context, url string) error) error {
	tmpl := lookupTemplate(name)
	tmpl.once.Do(func() { tmpl.err = tmpl.build(setup) })
	return tmpl.err
}

// NewDatabaseFrom is NewDatabase for a copy of the template called name,
// which EnsureTemplate must have built.
func NewDatabaseFrom(t testing.TB, name string) string {
	t.Helper()
	tmpl := lookupTemplate(name)
	// Waits for a build in progress; marks a template nobody built as an
	// error for good, so misuse fails the same way every time.
	tmpl.once.Do(func() { tmpl.err = fmt.Errorf("pgtest: template %q used before EnsureTemplate", name) })
	if tmpl.err != nil {
		t.Fatal(tmpl.err)
	}
	return newDatabase(t, tmpl.dbName)
}

func (tmpl *template) build(setup func(ctx context.Context, url string) error) error {
	if adminURL == "" {
		return errors.New("pgtest: no server: call pgtest.Main(m) from TestMain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), templateSetupTimeout)
	defer cancel()
	dbURL, err := withDatabase(adminURL, tmpl.dbName)
	if err != nil {
		return err
	}
	if err := createDatabase(ctx, tmpl.dbName, ""); err != nil {
		return fmt.Errorf("pgtest: template: %w", err)
	}
	err = setup(ctx, dbURL)
	if err == nil {
		err = seal(ctx, tmpl.dbName)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("pgtest: template %s: %w", tmpl.dbName, err), dropDatabase(ctx, tmpl.dbName))
	}
	return nil
}

// seal closes the template to new connections and ends leftover ones, so
// that clones never fail with "source database is being accessed".
func seal(ctx context.Context, dbName string) error {
	ident := pgx.Identifier{dbName}.Sanitize()
	if err := admin(ctx, "ALTER DATABASE "+ident+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	lit := "'" + dbName + "'" // uniqueName yields [a-z0-9_] only.
	return admin(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "+lit)
}

// dropTemplates drops the templates built in this process.
func dropTemplates() error {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, tmpl := range templates {
		// Only built templates exist; a failed build dropped its own.
		if tmpl.err == nil && adminURL != "" {
			errs = append(errs, dropDatabase(ctx, tmpl.dbName))
		}
	}
	return errors.Join(errs...)
}
