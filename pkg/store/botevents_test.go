package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/store"
)

// eventWrite is a call that writes a controller event, or a batched
// controller event: its type is the first or the second group (a literal,
// or an identifier).
var eventWrite = regexp.MustCompile(`(?:addEvent\(ctx, tx, [^,]+|AddBotEvent\(ctx, [^,]+), ("[A-Z0-9_]+"|[a-z]\w*),` +
	`|ControllerEvent\{[^}]*?Type:\s*("[A-Z0-9_]+"|[a-z]\w*)`)

var statusConst = regexp.MustCompile(`Status\w+\s+Status = "([A-Z_]+)"`)

// Every type the controller writes is one a bot is refused
// (botproto.ControllerEventTypes): a new controller event that is not
// listed there could be forged by a bot. This reads the writers' source, so
// a new write site cannot be forgotten.
func TestControllerEventTypesAreReserved(t *testing.T) {
	t.Parallel()
	written := map[string]string{} // type -> where
	for _, root := range []string{".", "../../controllers"} {
		require.NoError(t, filepath.WalkDir(root, func(f string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
				return err
			}
			src, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			collectEventTypes(t, f, string(src), written)
			return nil
		}))
	}
	require.Contains(t, written, "WEBHOOK_DELIVERY", "the scan reaches the controllers")
	require.Contains(t, written, "DONE", "the scan reaches the statuses")
	for typ, where := range written {
		require.True(t, botproto.ControllerEventType(typ), "%s (written in %s) is missing from botproto.ControllerEventTypes", typ, where)
	}
}

// collectEventTypes adds the event types file f writes to written.
func collectEventTypes(t *testing.T, f, src string, written map[string]string) {
	t.Helper()
	for _, m := range eventWrite.FindAllStringSubmatch(src, -1) {
		expr := m[1] + m[2] // one of the two matched
		typ, literal := strings.CutPrefix(expr, `"`)
		if !literal {
			// Only AddBotEvent itself passes its caller's type on.
			require.True(t, f == "bots.go" && expr == "typ", "%s: an event type must be a literal here: %s", f, m[0])
			continue
		}
		written[strings.TrimSuffix(typ, `"`)] = f
	}
	if f == "types.go" {
		for _, m := range statusConst.FindAllStringSubmatch(src, -1) {
			written[m[1]] = f + " (status change)"
		}
	}
}

// The cap holds under concurrent batches of one attempt: the bot's lock
// serialises them, so exactly the allowance is stored.
func TestAddEventsCapUnderConcurrency(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	bot := bundle.admitOne(t, "tok")
	auth, err := st.AuthenticateBot(t.Context(), "tok", bot.ID)
	require.NoError(t, err)

	const limit, tries = 5, 12
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Go(func() {
			errs[i] = st.AddEvents(context.Background(), auth, []store.NewEvent{{Type: "PARTICIPANT_JOIN"}}, t0.Add(time.Minute), limit)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, store.ErrTooManyEvents)
	}
	require.Equal(t, limit, ok)
	require.Equal(t, limit, bundle.count(t, `SELECT count(*) FROM bot_events WHERE bot_id = $1 AND source = 'bot' AND attempt = 1`, bot.ID))
}

// The store fences too, so a batch that raced the bot's end is refused.
func TestAddEventsFencedAfterEnd(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	bot := bundle.admitOne(t, "tok")
	auth, err := st.AuthenticateBot(t.Context(), "tok", bot.ID) // checked before the end
	require.NoError(t, err)
	require.NoError(t, auth.Fenced())
	_, err = st.FinishBot(t.Context(), bot.ID, store.StatusFatal, store.ReasonHeartbeat, t0.Add(time.Minute))
	require.NoError(t, err)

	err = st.AddEvents(t.Context(), auth, []store.NewEvent{{Type: "PARTICIPANT_JOIN"}}, t0.Add(2*time.Minute), 100)
	require.ErrorIs(t, err, store.ErrBotEnded)
	require.NoError(t, st.MarkGone(t.Context(), bot.ID, 1, t0.Add(3*time.Minute)))
	err = st.AddEvents(t.Context(), auth, []store.NewEvent{{Type: "PARTICIPANT_JOIN"}}, t0.Add(3*time.Minute), 100)
	require.ErrorIs(t, err, store.ErrDeploymentGone)
	require.Zero(t, bundle.count(t, `SELECT count(*) FROM bot_events WHERE source = 'bot'`))

	auth, err = st.AuthenticateBot(t.Context(), "tok", bot.ID)
	require.NoError(t, err, "an ended attempt's token is still recognised")
	require.True(t, errors.Is(auth.Fenced(), store.ErrDeploymentGone))
}

func TestClampOccurredAt(t *testing.T) {
	t.Parallel()
	created, now := t0, t0.Add(time.Hour)
	for _, tc := range []struct{ at, want time.Time }{
		{time.Time{}, now},
		{time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), created},
		{created.Add(-time.Nanosecond), created},
		{created, created},
		{created.Add(time.Minute), created.Add(time.Minute)},
		{now, now},
		{now.Add(time.Nanosecond), now},
	} {
		require.Equal(t, tc.want, store.ClampOccurredAt(tc.at, created, now), "at %s", tc.at)
	}
}
