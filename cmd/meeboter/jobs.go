package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/store"
)

// `meeboter jobs` is the operator's view of River's queue, across tenants,
// read from DATABASE_URL: riverui is not available from our Go module proxy.
// Listing, retry and cancel go through River's client, so they follow its
// rules (a running job is never retried, a finished one never cancelled);
// only the summary is SQL, one GROUP BY that River's API has no call for.

const jobsListArgs = "[--state S,...] [--queue Q,...] [--kind K,...] [--limit N]"

// jobsSubcommands are `meeboter jobs <name>`; a bare `meeboter jobs [flags]`
// is list.
var jobsSubcommands = []subcommand{
	{name: "list", args: jobsListArgs, run: jobsList},
	{name: "summary", run: jobsSummary},
	{name: "get", args: "<id>", run: jobsGet},
	{name: "retry", args: "<id>", run: jobsRetry},
	{name: "cancel", args: "<id>", run: jobsCancel},
}

func jobsUsage() string {
	var b strings.Builder
	b.WriteString("meeboter jobs [<command>], one of:")
	for _, s := range jobsSubcommands {
		b.WriteString("\n  " + strings.Join(strings.Fields("meeboter jobs "+s.name+" "+s.args+" [-o table|json]"), " "))
	}
	b.WriteString("\n(no command lists: meeboter jobs " + jobsListArgs + ")")
	return b.String()
}

func jobsCommand(ctx context.Context, env cliEnv, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runSubcommand(ctx, env, "jobs", &jobsSubcommands[0], args)
	}
	if args[0] == "help" {
		fmt.Fprintf(env.stdout, "usage: %s\n", jobsUsage())
		return flag.ErrHelp
	}
	sub := findSubcommand(jobsSubcommands, args[0])
	if sub == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: jobsUsage()}
	}
	return runSubcommand(ctx, env, "jobs "+sub.name, sub, args[1:])
}

// jobsDB is the database and an insert-only River client on it: enough to
// list, retry and cancel, and it works no job itself.
type jobsDB struct {
	pool  *pgxpool.Pool
	river *river.Client[pgx.Tx]
}

func openJobsDB(ctx context.Context, getenv func(string) string) (*jobsDB, error) {
	pool, err := connect(ctx, getenv)
	if err != nil {
		return nil, err
	}
	rc, err := controllers.NewInsertClient(pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &jobsDB{pool: pool, river: rc}, nil
}

func (db *jobsDB) close() { db.pool.Close() }

// defaultJobStates are what needs an operator: everything but completed.
// Completed jobs (kept 15 minutes, controllers/manager.go) are most of the
// table and would bury the rest.
var defaultJobStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStatePending, rivertype.JobStateDiscarded,
	rivertype.JobStateCancelled,
}

// jobStateOrder is the summary's columns: waiting, working, failing, done.
var jobStateOrder = append(slices.Clone(defaultJobStates), rivertype.JobStateCompleted)

// maxJobList is River's limit: First panics beyond it.
const maxJobList = 10_000

func jobsList(ctx context.Context, cmd *command, args []string) error {
	states := cmd.fs.String("state", "", "only jobs in these states, comma-separated (default: all but completed)")
	queues := cmd.fs.String("queue", "", "only jobs in these queues, comma-separated")
	kinds := cmd.fs.String("kind", "", "only jobs of these kinds, comma-separated")
	limit := cmd.fs.Int("limit", 50, "jobs to show, newest first, 1 to 10000")
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	params, err := jobListParams(*states, *queues, *kinds, *limit)
	if err != nil {
		return &usageError{msg: err.Error(), usage: cmd.usage()}
	}
	db, err := openJobsDB(ctx, cmd.env.getenv)
	if err != nil {
		return err
	}
	defer db.close()
	res, err := db.river.JobList(ctx, params)
	if err != nil {
		return err
	}
	views := make([]jobView, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		views = append(views, newJobView(j))
	}
	raw, err := json.Marshal(struct {
		Jobs []jobView `json:"jobs"`
	}{views})
	if err != nil {
		return err
	}
	if err := cmd.print(raw, func(w io.Writer) error { return writeJobsTable(w, views, time.Now()) }); err != nil {
		return err
	}
	if len(views) == *limit && cmd.output == "table" {
		// On stderr, so the table stays clean for awk and friends.
		fmt.Fprintf(cmd.env.stderr, "the newest %d shown: there may be more (--limit)\n", *limit)
	}
	return nil
}

// jobListParams checks the flags before anything connects, so a typo is bad
// usage (exit 2), not a failed call.
func jobListParams(states, queues, kinds string, limit int) (*river.JobListParams, error) {
	if limit < 1 || limit > maxJobList {
		return nil, fmt.Errorf("--limit: want 1 to %d", maxJobList)
	}
	p := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	want, err := parseJobStates(states)
	if err != nil {
		return nil, err
	}
	p = p.States(want...)
	if q := splitList(queues); len(q) > 0 {
		p = p.Queues(q...)
	}
	if k := splitList(kinds); len(k) > 0 {
		p = p.Kinds(k...)
	}
	return p, nil
}

func parseJobStates(s string) ([]rivertype.JobState, error) {
	names := splitList(strings.ToLower(s))
	if len(names) == 0 {
		return defaultJobStates, nil
	}
	all := rivertype.JobStates()
	states := make([]rivertype.JobState, 0, len(names))
	for _, n := range names {
		if !slices.Contains(all, rivertype.JobState(n)) {
			return nil, fmt.Errorf("--state: unknown state %q (want %s)", n, joinStates(jobStateOrder))
		}
		states = append(states, rivertype.JobState(n))
	}
	return states, nil
}

func joinStates(states []rivertype.JobState) string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// splitList reads a comma-separated flag; empty items are dropped.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// jobView is what the CLI shows of a job: River's row with the args made
// safe to show, and without the unique key, a hash of the args.
type jobView struct {
	ID          int64                    `json:"id"`
	Kind        string                   `json:"kind"`
	Queue       string                   `json:"queue"`
	State       rivertype.JobState       `json:"state"`
	Attempt     int                      `json:"attempt"`
	MaxAttempts int                      `json:"max_attempts"`
	Priority    int                      `json:"priority"`
	Args        json.RawMessage          `json:"args"`
	Tags        []string                 `json:"tags"`
	Metadata    json.RawMessage          `json:"metadata"`
	CreatedAt   time.Time                `json:"created_at"`
	ScheduledAt time.Time                `json:"scheduled_at"`
	AttemptedAt *time.Time               `json:"attempted_at"`
	AttemptedBy []string                 `json:"attempted_by"`
	FinalizedAt *time.Time               `json:"finalized_at"`
	Errors      []rivertype.AttemptError `json:"errors"`
}

func newJobView(j *rivertype.JobRow) jobView {
	args, errs := controllers.OperatorView(j.Kind, j.EncodedArgs, j.Errors)
	v := jobView{ID: j.ID, Kind: j.Kind, Queue: j.Queue, State: j.State, Attempt: j.Attempt,
		MaxAttempts: j.MaxAttempts, Priority: j.Priority, Args: args,
		Tags: j.Tags, Metadata: j.Metadata, CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt,
		AttemptedAt: j.AttemptedAt, AttemptedBy: j.AttemptedBy, FinalizedAt: j.FinalizedAt, Errors: errs}
	// [] and {}, not null: a script need not tell "none" from "missing".
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.AttemptedBy == nil {
		v.AttemptedBy = []string{}
	}
	if !json.Valid(v.Metadata) {
		v.Metadata = json.RawMessage("{}")
	}
	return v
}

func writeJobsTable(w io.Writer, jobs []jobView, now time.Time) error {
	t := newTable(w, "ID", "KIND", "QUEUE", "STATE", "ATTEMPT", "ARGS", "AT", "LAST_ERROR")
	for _, j := range jobs {
		lastErr := "-"
		if n := len(j.Errors); n > 0 {
			lastErr = clip(j.Errors[n-1].Error, 80)
		}
		t.row(strconv.FormatInt(j.ID, 10), j.Kind, j.Queue, string(j.State),
			fmt.Sprintf("%d/%d", j.Attempt, j.MaxAttempts), clip(compactJSON(j.Args), 60),
			ago(now, jobTime(j)), lastErr)
	}
	return t.flush()
}

// jobTime is the AT column, the time that matters in the job's state: when
// it runs (waiting), when it started (running), or when it finished.
func jobTime(j jobView) time.Time {
	switch {
	case j.State == rivertype.JobStateRunning && j.AttemptedAt != nil:
		return *j.AttemptedAt
	case j.FinalizedAt != nil:
		return *j.FinalizedAt
	default:
		return j.ScheduledAt
	}
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// jobFieldOrder is the order `jobs get` lists a job's fields in; errors
// follow, one attempt a line.
var jobFieldOrder = []string{"id", "kind", "queue", "state", "attempt", "max_attempts", "priority", "args",
	"tags", "metadata", "created_at", "scheduled_at", "attempted_at", "attempted_by", "finalized_at"}

// writeJob lists a job as "key: value" lines, then its error history, oldest
// first, with any panic's trace indented under its error.
func writeJob(w io.Writer, v jobView, now time.Time) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, k := range jobFieldOrder {
		fmt.Fprintf(tw, "%s:\t%s\n", k, fieldText(k, fields[k], now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Errors) == 0 {
		_, err := fmt.Fprintln(w, "errors: -")
		return err
	}
	fmt.Fprintf(w, "errors: %d\n", len(v.Errors))
	for _, e := range v.Errors {
		fmt.Fprintf(w, "  attempt %d at %s (%s): %s\n", e.Attempt, e.At.UTC().Format(time.RFC3339), ago(now, e.At), e.Error)
		if trace := strings.TrimSpace(e.Trace); trace != "" {
			for line := range strings.Lines(trace + "\n") {
				fmt.Fprintf(w, "    %s", line)
			}
		}
	}
	return nil
}

func printJob(cmd *command, row *rivertype.JobRow) error {
	v := newJobView(row)
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return cmd.print(raw, func(w io.Writer) error { return writeJob(w, v, time.Now()) })
}

// jobCall runs one job's subcommand: get, retry or cancel, through River.
func jobCall(ctx context.Context, cmd *command, args []string,
	call func(ctx context.Context, db *jobsDB, id int64) (*rivertype.JobRow, error)) error {
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id < 1 {
		return &usageError{msg: fmt.Sprintf("not a job id: %q", pos[0]), usage: cmd.usage()}
	}
	db, err := openJobsDB(ctx, cmd.env.getenv)
	if err != nil {
		return err
	}
	defer db.close()
	row, err := call(ctx, db, id)
	if err != nil {
		return jobError(id, err)
	}
	return printJob(cmd, row)
}

func jobError(id int64, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, rivertype.ErrNotFound):
		return fmt.Errorf("no such job %d", id)
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		// A unique job (reconcile_bot, admit, ...) that already has an
		// unfinished twin: River keeps one, and the twin does the work.
		return fmt.Errorf("job %d: an unfinished job with the same args is already queued, so River keeps this one as it is", id)
	}
	return err
}

func jobsGet(ctx context.Context, cmd *command, args []string) error {
	return jobCall(ctx, cmd, args, func(ctx context.Context, db *jobsDB, id int64) (*rivertype.JobRow, error) {
		return db.river.JobGet(ctx, id)
	})
}

// jobsRetry makes a job available now (River's JobRetry); one that has used
// its attempts gets one more.
func jobsRetry(ctx context.Context, cmd *command, args []string) error {
	return jobCall(ctx, cmd, args, func(ctx context.Context, db *jobsDB, id int64) (*rivertype.JobRow, error) {
		row, err := db.river.JobRetry(ctx, id)
		if err == nil && row.State == rivertype.JobStateRunning {
			// River leaves a running job alone; saying nothing would read
			// as success.
			return nil, fmt.Errorf("job %d is running: River retries only a job that is not; wait for it, or cancel it first", id)
		}
		return row, err
	})
}

// jobsCancel cancels a job (River's JobCancel). A running one is only marked:
// the client working it cancels it, or, if that client is gone, River's
// rescuer does once the job is stuck (JOB_TIMEOUT + 15 s), so a stuck job
// ends too.
func jobsCancel(ctx context.Context, cmd *command, args []string) error {
	return jobCall(ctx, cmd, args, func(ctx context.Context, db *jobsDB, id int64) (*rivertype.JobRow, error) {
		row, err := db.river.JobCancel(ctx, id)
		if err != nil {
			return nil, err
		}
		switch row.State {
		case rivertype.JobStateRunning:
			fmt.Fprintf(cmd.env.stderr, "job %d is running: cancellation requested; the worker running it (or River's rescuer) ends it\n", id)
		case rivertype.JobStateCompleted, rivertype.JobStateDiscarded:
			fmt.Fprintf(cmd.env.stderr, "job %d had already finished (%s): nothing to cancel\n", id, row.State)
		}
		return row, nil
	})
}

// queueSummary is one queue's jobs by state and how long its oldest
// available job has waited: a queue that backs up shows here first.
type queueSummary struct {
	Queue                     string                       `json:"queue"`
	States                    map[rivertype.JobState]int64 `json:"states"`
	Total                     int64                        `json:"total"`
	OldestAvailableAgeSeconds *float64                     `json:"oldest_available_age_seconds"`
}

// jobQueues are Meeboter's queues, shown even when empty: an empty queue is
// news too.
var jobQueues = []string{controllers.QueueReconcile, controllers.QueueWebhook}

func jobsSummary(ctx context.Context, cmd *command, args []string) error {
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	db, err := openJobsDB(ctx, cmd.env.getenv)
	if err != nil {
		return err
	}
	defer db.close()
	queues, err := summarizeJobs(ctx, store.New(db.pool, nil))
	if err != nil {
		return err
	}
	raw, err := json.Marshal(struct {
		Queues []queueSummary `json:"queues"`
	}{queues})
	if err != nil {
		return err
	}
	return cmd.print(raw, func(w io.Writer) error { return writeSummaryTable(w, queues) })
}

func summarizeJobs(ctx context.Context, st *store.Store) ([]queueSummary, error) {
	counts, err := st.JobCounts(ctx)
	if err != nil {
		return nil, err
	}
	byQueue := map[string]*queueSummary{}
	order := slices.Clone(jobQueues)
	for _, q := range jobQueues {
		byQueue[q] = newQueueSummary(q)
	}
	for _, c := range counts {
		s, ok := byQueue[c.Queue]
		if !ok {
			s = newQueueSummary(c.Queue)
			byQueue[c.Queue] = s
			order = append(order, c.Queue)
		}
		s.States[rivertype.JobState(c.State)] = c.Count
		s.Total += c.Count
		if c.State == string(rivertype.JobStateAvailable) {
			s.OldestAvailableAgeSeconds = &c.OldestDueSeconds
		}
	}
	slices.Sort(order[len(jobQueues):]) // other queues after Meeboter's, by name
	out := make([]queueSummary, 0, len(order))
	for _, q := range order {
		out = append(out, *byQueue[q])
	}
	return out, nil
}

func newQueueSummary(queue string) *queueSummary {
	s := &queueSummary{Queue: queue, States: map[rivertype.JobState]int64{}}
	for _, st := range jobStateOrder {
		s.States[st] = 0
	}
	return s
}

func writeSummaryTable(w io.Writer, queues []queueSummary) error {
	header := []string{"QUEUE"}
	for _, st := range jobStateOrder {
		header = append(header, strings.ToUpper(string(st)))
	}
	t := newTable(w, append(header, "TOTAL", "OLDEST_AVAILABLE")...)
	for _, q := range queues {
		cells := []string{q.Queue}
		for _, st := range jobStateOrder {
			cells = append(cells, strconv.FormatInt(q.States[st], 10))
		}
		oldest := "-"
		if q.OldestAvailableAgeSeconds != nil {
			oldest = age(time.Duration(*q.OldestAvailableAgeSeconds * float64(time.Second)))
		}
		t.row(append(cells, strconv.FormatInt(q.Total, 10), oldest)...)
	}
	return t.flush()
}
