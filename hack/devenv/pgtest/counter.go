package pgtest

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// QueryCounter is a pgx tracer that counts the statements a program sends
// to Postgres, for tests that bound a code path's database round trips and
// writes (and for benchmarks that report queries per unit of work). Set it
// as ConnConfig.Tracer of a pool (pgxpool.Config.ConnConfig.Tracer) or a
// connection; it is safe for concurrent use.
//
// Each Exec, Query, QueryRow, SendBatch and CopyFrom is one round trip
// (BEGIN and COMMIT are statements too). A statement's first use on a
// connection also costs a Parse round trip (pgx then caches it per
// connection): those are counted apart, in Prepares.
type QueryCounter struct {
	// Filter, when set, picks the statements counted, e.g. those whose
	// context was marked with Mark, or those on one connection.
	Filter func(ctx context.Context, conn *pgx.Conn) bool

	mu       sync.Mutex
	stmts    map[string]int // SQL → round trips (a batch: its statements joined by "; ")
	prepares int
}

type counterKey struct{}

// Mark marks ctx so that a QueryCounter whose Filter is Marked counts the
// statements run with it.
func Mark(ctx context.Context) context.Context { return context.WithValue(ctx, counterKey{}, true) }

// Marked reports whether ctx was marked with Mark (a Filter).
func Marked(ctx context.Context, _ *pgx.Conn) bool { return ctx.Value(counterKey{}) != nil }

var (
	_ pgx.QueryTracer    = (*QueryCounter)(nil)
	_ pgx.BatchTracer    = (*QueryCounter)(nil)
	_ pgx.CopyFromTracer = (*QueryCounter)(nil)
	_ pgx.PrepareTracer  = (*QueryCounter)(nil)
)

func (c *QueryCounter) counts(ctx context.Context, conn *pgx.Conn) bool {
	return c.Filter == nil || c.Filter(ctx, conn)
}

func (c *QueryCounter) add(sql string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts == nil {
		c.stmts = map[string]int{}
	}
	c.stmts[strings.TrimSpace(sql)]++
}

// TraceQueryStart implements pgx.QueryTracer.
func (c *QueryCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if c.counts(ctx, conn) {
		c.add(data.SQL)
	}
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type batchKey struct{}

// TraceBatchStart implements pgx.BatchTracer: a batch is one round trip,
// recorded once its statements are known.
func (c *QueryCounter) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	if !c.counts(ctx, conn) {
		return ctx
	}
	return context.WithValue(ctx, batchKey{}, &[]string{})
}

// TraceBatchQuery implements pgx.BatchTracer.
func (c *QueryCounter) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if b, ok := ctx.Value(batchKey{}).(*[]string); ok {
		*b = append(*b, strings.TrimSpace(data.SQL))
	}
}

// TraceBatchEnd implements pgx.BatchTracer.
func (c *QueryCounter) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if b, ok := ctx.Value(batchKey{}).(*[]string); ok {
		c.add(strings.Join(*b, "; "))
	}
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (c *QueryCounter) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	if c.counts(ctx, conn) {
		c.add("COPY " + data.TableName.Sanitize())
	}
	return ctx
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (c *QueryCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

type prepareKey struct{}

// TracePrepareStart implements pgx.PrepareTracer.
func (c *QueryCounter) TracePrepareStart(ctx context.Context, conn *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	if !c.counts(ctx, conn) {
		return ctx
	}
	return context.WithValue(ctx, prepareKey{}, true)
}

// TracePrepareEnd implements pgx.PrepareTracer: a statement already
// prepared on the connection cost nothing.
func (c *QueryCounter) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, data pgx.TracePrepareEndData) {
	if ctx.Value(prepareKey{}) == nil || data.AlreadyPrepared {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prepares++
}

// Reset forgets everything counted so far.
func (c *QueryCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stmts, c.prepares = nil, 0
}

// Queries is the number of statement round trips counted.
func (c *QueryCounter) Queries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.stmts {
		n += k
	}
	return n
}

// Prepares is the number of Parse round trips counted (a statement's first
// use on a connection).
func (c *QueryCounter) Prepares() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prepares
}

// Statements returns each statement counted with its round trips.
func (c *QueryCounter) Statements() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.stmts)
}

// Transactions is the number of explicit transactions begun.
func (c *QueryCounter) Transactions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for sql, k := range c.stmts {
		if beginRE.MatchString(sql) {
			n += k
		}
	}
	return n
}

var (
	beginRE = regexp.MustCompile(`(?i)^(begin|start\s+transaction)\b`)
	// writeRE finds the target of every INSERT, UPDATE and DELETE (in a
	// WITH clause too): the statement is a write even when it matches no
	// row. A schema prefix or quotes are dropped; so are comments.
	writeRE = regexp.MustCompile(`(?i)\b(?:insert\s+into|update|delete\s+from)\s+(?:only\s+)?(?:"?\w+"?\.)?"?(\w+)"?`)
	// notWriteRE is what writeRE must not take for a write: comments, row
	// locks (FOR [NO KEY] UPDATE) and ON CONFLICT's DO UPDATE (part of an
	// INSERT, counted as such).
	notWriteRE = regexp.MustCompile(`(?is)/\*.*?\*/|--[^\n]*|\bfor\s+(?:no\s+key\s+)?update\b|\bdo\s+update\b`)
)

// Written returns the tables the counted statements insert into, update or
// delete from (sorted, each once); SELECT … FOR UPDATE/SHARE row locks are
// not counted as writes.
func (c *QueryCounter) Written() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	tables := map[string]bool{}
	for sql := range c.stmts {
		for _, m := range writeRE.FindAllStringSubmatch(notWriteRE.ReplaceAllString(sql, " "), -1) {
			tables[strings.ToLower(m[1])] = true
		}
	}
	return slices.Sorted(maps.Keys(tables))
}
