package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient talks to a running Meeboter API.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

func newAPIClient(getenv func(string) string) (*apiClient, error) {
	base := strings.TrimRight(getenv("MEEBOTER_URL"), "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	key := getenv("MEEBOTER_API_KEY")
	if key == "" {
		return nil, errors.New("MEEBOTER_API_KEY: required (create one with: meeboter apikey create --owner NAME)")
	}
	return &apiClient{base: base, key: key, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and returns the body; a non-2xx answer is an error
// carrying the server's problem detail.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func bots(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want list, get, create, leave or cancel")
	}
	c, err := newAPIClient(getenv)
	if err != nil {
		return err
	}
	var out []byte
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("bots list", flag.ContinueOnError)
		status := fs.String("status", "", "comma-separated statuses")
		limit := fs.Int("limit", 50, "page size")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *status != "" {
			q.Set("status", *status)
		}
		out, err = c.do(ctx, http.MethodGet, "/api/v1/bots?"+q.Encode(), nil)
	case "get", "leave", "cancel":
		if len(args) != 2 {
			return fmt.Errorf("usage: bots %s <id>", args[0])
		}
		path := "/api/v1/bots/" + url.PathEscape(args[1])
		switch args[0] {
		case "get":
			out, err = c.do(ctx, http.MethodGet, path, nil)
		case "leave":
			out, err = c.do(ctx, http.MethodPost, path+"/leave", nil)
		default:
			out, err = c.do(ctx, http.MethodDelete, path, nil)
		}
	case "create":
		out, err = createBot(ctx, c, args[1:])
	default:
		return fmt.Errorf("unknown bots command %q", args[0])
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func createBot(ctx context.Context, c *apiClient, args []string) ([]byte, error) {
	fs := flag.NewFlagSet("bots create", flag.ContinueOnError)
	meetingURL := fs.String("meeting-url", "", "meeting link (required)")
	platform := fs.String("platform", "", "zoom, microsoft-teams or google-meet (inferred when omitted)")
	name := fs.String("name", "", "bot name shown in the meeting")
	joinAt := fs.String("join-at", "", "RFC 3339 time to join")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	body := map[string]any{"meeting_url": *meetingURL}
	for k, v := range map[string]string{"meeting_platform": *platform, "bot_name": *name, "join_at": *joinAt} {
		if v != "" {
			body[k] = v
		}
	}
	return c.do(ctx, http.MethodPost, "/api/v1/bots", body)
}

func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = w.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
