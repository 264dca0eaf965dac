package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// botsSubcommands are `meeboter bots <name>`, in the order usage lists them.
var botsSubcommands = []subcommand{
	{name: "list", args: "[--status S,...] [--platform P] [--limit N] [--all]", run: botsList},
	{name: "get", args: "<id>", run: botCall(http.MethodGet, "")},
	{name: "events", args: "<id> [--limit N]", run: botsEvents},
	{name: "leave", args: "<id>", run: botCall(http.MethodPost, "/leave")},
	{name: "cancel", args: "<id>", run: botCall(http.MethodDelete, "")},
	{name: "create", args: "--meeting-url URL [--platform P] [--name N] [--join-at T] [--metadata JSON]", run: botsCreate},
}

func botsUsage() string {
	var b strings.Builder
	b.WriteString("meeboter bots <command>, one of:")
	for _, s := range botsSubcommands {
		fmt.Fprintf(&b, "\n  meeboter bots %s %s [-o table|json]", s.name, s.args)
	}
	return b.String()
}

func botsCommand(ctx context.Context, env cliEnv, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "missing command", usage: botsUsage()}
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.stdout, "usage: %s\n", botsUsage())
		return flag.ErrHelp
	}
	sub := findSubcommand(botsSubcommands, args[0])
	if sub == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: botsUsage()}
	}
	return runSubcommand(ctx, env, "bots "+sub.name, sub, args[1:])
}

func botPath(id string) string { return "/api/v1/bots/" + url.PathEscape(id) }

// botCall is a subcommand that sends method to a bot's path plus suffix and
// shows the bot the API answers with (get, leave, cancel).
func botCall(method, suffix string) func(context.Context, *command, []string) error {
	return func(ctx context.Context, cmd *command, args []string) error {
		pos, err := cmd.parse(args, 1)
		if err != nil {
			return err
		}
		c, err := cmd.client()
		if err != nil {
			return err
		}
		raw, err := c.do(ctx, method, botPath(pos[0])+suffix, nil)
		if err != nil {
			return err
		}
		return cmd.print(raw, func(w io.Writer) error { return writeBot(w, raw, time.Now()) })
	}
}

func botsEvents(ctx context.Context, cmd *command, args []string) error {
	limit := cmd.fs.Int("limit", 0, "events to show, oldest first, 1 to 1000 (default: the API's, 100)")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	path := botPath(pos[0]) + "/events"
	if *limit != 0 {
		path += "?limit=" + strconv.Itoa(*limit)
	}
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return cmd.print(raw, func(w io.Writer) error { return writeEventsTable(w, raw) })
}

func botsList(ctx context.Context, cmd *command, args []string) error {
	status := cmd.fs.String("status", "", "only bots in these statuses (comma-separated)")
	platform := cmd.fs.String("platform", "", "only bots on this meeting platform")
	limit := cmd.fs.Int("limit", 0, "page size, 1 to 100 (default: the API's, 50; 100 with --all)")
	all := cmd.fs.Bool("all", false, "follow next_cursor to list every bot")
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *status != "" {
		q.Set("status", strings.ToUpper(*status))
	}
	if *platform != "" {
		q.Set("meeting_platform", *platform)
	}
	if *limit == 0 && *all {
		*limit = 100 // fewer round trips
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	page, err := listBots(ctx, c, q, *all)
	if err != nil {
		return err
	}
	return printBotPage(cmd, page)
}

// botPage is GET /api/v1/bots, bots kept as the API sent them.
type botPage struct {
	Bots       []json.RawMessage `json:"bots"`
	NextCursor *string           `json:"next_cursor"`
}

// listBots gets one page, or with all every page, merged into one.
func listBots(ctx context.Context, c *apiClient, q url.Values, all bool) (botPage, error) {
	out := botPage{Bots: []json.RawMessage{}}
	for {
		raw, err := c.do(ctx, http.MethodGet, "/api/v1/bots?"+q.Encode(), nil)
		if err != nil {
			return out, err
		}
		var page botPage
		if err := json.Unmarshal(raw, &page); err != nil {
			return out, fmt.Errorf("unexpected bot list from the API: %w", err)
		}
		out.Bots, out.NextCursor = append(out.Bots, page.Bots...), page.NextCursor
		if !all || page.NextCursor == nil {
			return out, nil
		}
		if q.Get("cursor") == *page.NextCursor {
			return out, errors.New("the API returned the same next_cursor twice")
		}
		q.Set("cursor", *page.NextCursor)
	}
}

func printBotPage(cmd *command, page botPage) error {
	raw, err := json.Marshal(page)
	if err != nil {
		return err
	}
	if err := cmd.print(raw, func(w io.Writer) error { return writeBotsTable(w, page.Bots, time.Now()) }); err != nil {
		return err
	}
	if page.NextCursor != nil && cmd.output == "table" {
		// On stderr, so the table stays clean for awk and friends.
		fmt.Fprintln(cmd.env.stderr, "more bots: add --all to list them all")
	}
	return nil
}

func botsCreate(ctx context.Context, cmd *command, args []string) error {
	meetingURL := cmd.fs.String("meeting-url", "", "meeting link (required)")
	platform := cmd.fs.String("platform", "", "zoom, microsoft-teams or google-meet (inferred when omitted)")
	name := cmd.fs.String("name", "", "bot name shown in the meeting")
	joinAt := cmd.fs.String("join-at", "", "RFC 3339 time to join")
	metadata := cmd.fs.String("metadata", "", `JSON object stored with the bot, e.g. '{"simulate":{"call_seconds":15}}'`)
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	switch {
	case *meetingURL == "":
		return &usageError{msg: "--meeting-url is required", usage: cmd.usage()}
	case *metadata != "" && !json.Valid([]byte(*metadata)):
		return &usageError{msg: "--metadata: not valid JSON", usage: cmd.usage()}
	}
	body := map[string]any{"meeting_url": *meetingURL}
	for k, v := range map[string]string{"meeting_platform": *platform, "bot_name": *name, "join_at": *joinAt} {
		if v != "" {
			body[k] = v
		}
	}
	if *metadata != "" {
		body["metadata"] = json.RawMessage(*metadata)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	raw, err := c.do(ctx, http.MethodPost, "/api/v1/bots", body)
	if err != nil {
		return err
	}
	return cmd.print(raw, func(w io.Writer) error { return writeBot(w, raw, time.Now()) })
}
