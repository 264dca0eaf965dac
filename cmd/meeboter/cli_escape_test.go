package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawHidden reports a character a terminal would act on or hide, other
// than the output's own line ends.
func rawHidden(s string) bool { return strings.ContainsFunc(strings.ReplaceAll(s, "\n", ""), hidden) }

// TestCLIEscapesHiddenCharacters: a bot name (or reason, or event data)
// holding escape sequences or bidi overrides prints as visible escapes in
// tables, `bots get`, JSON output and error messages.
func TestCLIEscapesHiddenCharacters(t *testing.T) {
	t.Parallel()
	evil := "Notes\u202egnp.exe\x1b[2J\u2066x\u0085\u2028\U000E0001"
	bot, err := json.Marshal(map[string]any{"id": "b1", "status": "FATAL", "status_reason": evil, "bot_name": evil,
		"meeting_platform": "zoom", "attempt": 1, "created_at": time.Now().Format(time.RFC3339), "metadata": map[string]string{"k": evil}})
	require.NoError(t, err)
	bot = bytes.ReplaceAll(bot, []byte(`\u2028`), []byte("\u2028")) // JSON may carry these raw

	var out bytes.Buffer
	require.NoError(t, writeBot(&out, bot, time.Now()))
	require.False(t, rawHidden(out.String()), "bots get: %q", out.String())
	require.Contains(t, out.String(), `Notes\u202egnp.exe\u001b[2J\u2066x\u0085\u2028\udb40\udc01`)

	out.Reset()
	require.NoError(t, writeBotsTable(&out, []json.RawMessage{bot}, time.Now()))
	require.False(t, rawHidden(out.String()), "bots list: %q", out.String())

	out.Reset()
	require.NoError(t, printJSON(&out, bot))
	require.False(t, rawHidden(out.String()), "-o json: %q", out.String())
	var back, orig map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &back))
	require.NoError(t, json.Unmarshal(bot, &orig))
	require.Equal(t, orig, back, "the JSON means the same")

	apiErr := newAPIError("422 Unprocessable Entity", []byte(`{"title":"Unprocessable Entity","detail":"bad `+evil+`"}`))
	require.False(t, rawHidden(apiErr.Error()), "%q", apiErr.Error())

	require.Equal(t, `a\xFFb`, printable("a\xffb"), "invalid UTF-8 too")
	require.Equal(t, "Émile 🤖 עברית", printable("Émile 🤖 עברית"), "visible text unchanged")
}
