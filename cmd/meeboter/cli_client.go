package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
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

// do sends a request and returns the body; a non-2xx answer is an *apiError.
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
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, newAPIError(resp.Status, out)
	}
	return out, nil
}

// unreachable names the URL and the variable to fix rather than repeating
// the request line that url.Error carries.
func (c *apiClient) unreachable(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("cannot reach the API at %s (MEEBOTER_URL): %w", c.base, err)
}

// apiError is a non-2xx answer: "404 Not Found: no such bot".
type apiError struct {
	status string // "404 Not Found"
	msg    string
}

func (e *apiError) Error() string { return e.status + ": " + e.msg }

// newAPIError reads an application/problem+json body; anything else (a
// proxy's HTML page, say) is shown trimmed.
func newAPIError(status string, body []byte) *apiError {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil || p.Title == "" && p.Detail == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		return &apiError{status: status, msg: printable(cmp.Or(text, "(empty body)"))}
	}
	msg := cmp.Or(p.Detail, p.Title)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field+": "+f.Message)
	}
	if len(fields) > 0 {
		msg += " (" + strings.Join(fields, "; ") + ")"
	}
	return &apiError{status: status, msg: printable(msg)}
}
