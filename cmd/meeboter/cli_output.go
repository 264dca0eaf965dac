package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The tables decode the API's JSON into small local structs: the CLI needs a
// few fields, not pkg/api's types (and their store dependencies).

func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, escapeJSONText(raw), "", "  "); err != nil {
		_, err = w.Write([]byte(printable(string(raw))))
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// table is aligned columns, written when flushed.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one line; tabs and newlines in a cell would break the columns,
// other hidden characters are escaped (printable).
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = printable(strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, c))
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// age reads at a glance: seconds under an hour, minutes under a day, then
// days and hours.
func age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	case d < 24*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	default:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
}

// ago is t relative to now: "3m12s ago", or "in 5m0s" for a future time.
func ago(now, t time.Time) string {
	if t.After(now) {
		return "in " + age(t.Sub(now))
	}
	return age(now.Sub(t)) + " ago"
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// botRow is what the bots table shows of a bot.
type botRow struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	StatusReason    *string   `json:"status_reason"`
	Platform        *string   `json:"platform"`
	MeetingPlatform string    `json:"meeting_platform"`
	Attempt         int       `json:"attempt"`
	CreatedAt       time.Time `json:"created_at"`
}

func writeBotsTable(w io.Writer, bots []json.RawMessage, now time.Time) error {
	t := newTable(w, "ID", "STATUS", "REASON", "PLATFORM", "MEETING_PLATFORM", "ATTEMPT", "CREATED")
	for _, raw := range bots {
		var b botRow
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("unexpected bot from the API: %w", err)
		}
		t.row(b.ID, b.Status, orDash(b.StatusReason), orDash(b.Platform), b.MeetingPlatform,
			strconv.Itoa(b.Attempt), ago(now, b.CreatedAt))
	}
	return t.flush()
}

// botFieldOrder is the order `bots get` lists a bot's fields in: what it is
// doing first, then where, then when. Fields not named here follow, sorted.
var botFieldOrder = []string{"id", "status", "status_reason", "desired", "stop_mode", "bot_name",
	"meeting_platform", "meeting_url", "platform", "attempt", "join_at", "created_at", "queued_at",
	"deploy_started_at", "joined_at", "last_heartbeat_at", "ended_at", "generation", "observed_generation",
	"automatic_leave", "recording", "metadata", "callback_url"}

// writeBot lists a bot as "key: value" lines.
func writeBot(w io.Writer, raw []byte, now time.Time) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("unexpected bot from the API: %w", err)
	}
	var rest []string
	for k := range fields {
		if !slices.Contains(botFieldOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, k := range append(slices.Clone(botFieldOrder), rest...) {
		if v, ok := fields[k]; ok {
			fmt.Fprintf(tw, "%s:\t%s\n", k, fieldText(k, v, now))
		}
	}
	return tw.Flush()
}

// fieldText shows a JSON value: strings bare, null as "-", times with their
// age, objects as compact JSON.
func fieldText(key string, v json.RawMessage, now time.Time) string {
	if string(v) == "null" { // checked first: null unmarshals into a string as ""
		return "-"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil && strings.HasSuffix(key, "_at") {
			return s + " (" + ago(now, t) + ")"
		}
		return printable(s)
	}
	return printable(compactJSON(v))
}

func compactJSON(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

func writeEventsTable(w io.Writer, raw []byte) error {
	var list struct {
		Events []struct {
			Type       string          `json:"type"`
			Data       json.RawMessage `json:"data"`
			OccurredAt time.Time       `json:"occurred_at"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("unexpected events from the API: %w", err)
	}
	t := newTable(w, "TIME", "TYPE", "DATA")
	for _, e := range list.Events {
		t.row(e.OccurredAt.Format("2006-01-02T15:04:05.000Z07:00"), e.Type, compactJSON(e.Data))
	}
	return t.flush()
}

// poolRow is one meeting platform of GET /api/v1/pool.
type poolRow struct {
	MeetingPlatform        string         `json:"meeting_platform"`
	Slots                  map[string]int `json:"slots"`
	Total                  int            `json:"total"`
	QueueLength            int            `json:"queue_length"`
	OldestQueuedAgeSeconds *float64       `json:"oldest_queued_age_seconds"`
}

// slotStates are the pool table's columns, in lifecycle order, so they stay
// put while slots come and go.
var slotStates = []string{"CREATING", "IDLE", "STARTING", "BUSY", "STOPPING", "ERROR", "DELETING"}

func writePoolTable(w io.Writer, raw []byte) error {
	var view struct {
		Pools []poolRow `json:"pools"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		return fmt.Errorf("unexpected pool from the API: %w", err)
	}
	states := slotColumns(view.Pools)
	header := append(append([]string{"MEETING_PLATFORM"}, states...), "TOTAL", "QUEUE", "OLDEST_QUEUED")
	t := newTable(w, header...)
	for _, p := range view.Pools {
		cells := []string{p.MeetingPlatform}
		for _, s := range states {
			cells = append(cells, strconv.Itoa(p.Slots[s]))
		}
		oldest := "-"
		if p.OldestQueuedAgeSeconds != nil {
			oldest = age(time.Duration(*p.OldestQueuedAgeSeconds * float64(time.Second)))
		}
		t.row(append(cells, strconv.Itoa(p.Total), strconv.Itoa(p.QueueLength), oldest)...)
	}
	return t.flush()
}

// slotColumns is slotStates plus any state a newer server reports, so no
// slot goes uncounted.
func slotColumns(pools []poolRow) []string {
	var extra []string
	for _, p := range pools {
		for s := range p.Slots {
			if !slices.Contains(slotStates, s) && !slices.Contains(extra, s) {
				extra = append(extra, s)
			}
		}
	}
	slices.Sort(extra)
	return append(slices.Clone(slotStates), extra...)
}

func writePlatformsTable(w io.Writer, raw []byte) error {
	var view struct {
		Platforms []struct {
			Name     string `json:"name"`
			Priority int    `json:"priority"`
			Limit    int    `json:"limit"`
			Used     int    `json:"used"`
			Capacity int    `json:"capacity"`
		} `json:"platforms"`
		QueueLength int `json:"queue_length"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		return fmt.Errorf("unexpected platforms from the API: %w", err)
	}
	t := newTable(w, "NAME", "PRIORITY", "LIMIT", "USED", "CAPACITY")
	for _, p := range view.Platforms {
		t.row(p.Name, strconv.Itoa(p.Priority), strconv.Itoa(p.Limit), strconv.Itoa(p.Used), strconv.Itoa(p.Capacity))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nqueued: %d\n", view.QueueLength)
	return err
}
