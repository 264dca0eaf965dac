package api

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/meeting"
	"github.com/meeboter/meeboter/pkg/store"
)

// FuzzDecodeCreateBot checks what the store relies on for any body: no
// panic, an accepted request is a consistent bot, and Postgres stores it
// (a refusal there would be a 500: every bad input must be a 4xx here).
func FuzzDecodeCreateBot(f *testing.F) {
	fixedNow := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	pool := storetest.NewPool(f)
	rc, err := controllers.NewInsertClient(pool)
	require.NoError(f, err)
	st := store.New(pool, controllers.NewEnqueuer(rc))
	seeds := []string{
		// valid
		`{"meeting_url":"https://meet.google.com/abc-defg-hij"}`,
		`{"meeting_url":"https://us02web.zoom.us/j/85012345678?pwd=abc","meeting_platform":"zoom"}`,
		`{"meeting_url":"https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZmJk%40thread.v2/0","bot_name":" Scribe "}`,
		`{"meeting_url":"https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/19:meeting_x@thread.v2/0"}`,
		`{"meeting_url":"https://zoom.us/my/jane.doe","join_at":"2026-11-23T11:00:00Z","callback_url":"https://example.com/hook"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","automatic_leave":{"waiting_room_timeout_seconds":60,
			"noone_joined_timeout_seconds":3600,"everyone_left_timeout_seconds":10,"inactivity_timeout_seconds":7200},
			"recording":{"enabled":true,"mode":"audio"},"metadata":{"a":[1,{"b":null}],"c":"\u00e9"}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","meeting_platform":null,"bot_name":null,"join_at":null,
			"automatic_leave":null,"recording":null,"metadata":null,"callback_url":null}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","recording":{"enabled":true}}`,
		`{"meeting_url":"https://meet.google.com/lookup/abc123","recording":{"enabled":false,"mode":"nonsense"},"callback_url":""}`,
		// invalid
		``,
		`{`,
		`null`,
		`[]`,
		`{}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij"} {}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","x":1}`,
		`{"meeting_url":"https://example.com"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","meeting_platform":"zoom"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","meeting_platform":"Zoom"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","bot_name":"   "}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","join_at":"2026-11-23T08:00:00Z"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","join_at":"2027-11-23T08:00:00Z"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","automatic_leave":{"inactivity_timeout_seconds":-9223372036854775808}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":[]}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"k":` + `"` + strings.Repeat("x", MaxMetadataBytes) + `"}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","callback_url":"https://u:p@example.com"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","callback_url":"javascript:alert(1)"}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","recording":{"enabled":true,"mode":"gif"}}`,
		// what jsonb refuses, and its edges
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":"\ud800"}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":"\ud83d\ude00","b":"\\ud800"}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":1e1000000}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":1e-20000}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":1e131071,"b":1e-16383,"c":0e99999}}`,
		"{\"meeting_url\":\"https://meet.google.com/abc-defg-hij\",\"metadata\":{\"a\":\"\xc3\"}}",
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","metadata":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
		`{"meeting_url":"https://meet.google.com/abc-defg-hij","bot_name":"a\u202eb"}`,
		"{\"meeting_url\":\"https://meet.google.com/abc-defg-hij\",\"bot_name\":\"\xff\"}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	platforms := []string{"zoom", "microsoft-teams", "google-meet"}
	// [min, max] seconds of each automatic_leave field, as documented.
	type bounds struct{ lo, hi int }

	f.Fuzz(func(t *testing.T, body []byte) {
		nb, fields, err := DecodeCreateBot(body, "acme", fixedNow)
		if err != nil {
			require.ErrorIs(t, err, errMalformed)
			require.Empty(t, fields, "a malformed body has no field errors")
			return
		}
		for _, fe := range fields {
			require.NotEmpty(t, fe.Field)
			require.NotEmpty(t, fe.Message)
		}
		if len(fields) > 0 {
			return
		}

		require.Equal(t, "acme", nb.Owner)

		require.NotEmpty(t, nb.MeetingURL)
		require.True(t, strings.HasPrefix(nb.MeetingURL, "https://"), "meeting_url %q", nb.MeetingURL)
		require.Contains(t, platforms, nb.MeetingPlatform)
		u, err := meeting.ParseURL(nb.MeetingURL)
		require.NoError(t, err, "the stored link %q validates again", nb.MeetingURL)
		require.Equal(t, nb.MeetingPlatform, string(u.Platform))
		require.Equal(t, nb.MeetingURL, u.Normalized)

		n := utf8.RuneCountInString(nb.BotName)
		require.True(t, n >= 1 && n <= MaxBotNameLength, "bot_name %q has %d runes", nb.BotName, n)
		require.Equal(t, strings.TrimSpace(nb.BotName), nb.BotName)

		require.True(t, json.Valid(nb.Metadata), "metadata %q", nb.Metadata)
		require.True(t, bytes.HasPrefix(nb.Metadata, []byte("{")), "metadata %q is an object", nb.Metadata)
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(nb.Metadata))
		dec.UseNumber() // numbers beyond float64 are kept as sent
		require.NoError(t, dec.Decode(&obj))
		require.NotNil(t, obj)
		require.LessOrEqual(t, len(nb.Metadata), MaxMetadataBytes)

		leave := map[string]struct {
			got int
			b   bounds
		}{
			"waiting_room_timeout_seconds":  {nb.AutomaticLeave.WaitingRoomTimeoutSeconds, bounds{60, 7200}},
			"noone_joined_timeout_seconds":  {nb.AutomaticLeave.NooneJoinedTimeoutSeconds, bounds{10, 3600}},
			"everyone_left_timeout_seconds": {nb.AutomaticLeave.EveryoneLeftTimeoutSeconds, bounds{10, 3600}},
			"inactivity_timeout_seconds":    {nb.AutomaticLeave.InactivityTimeoutSeconds, bounds{60, 7200}},
		}
		for name, v := range leave {
			require.True(t, v.got >= v.b.lo && v.got <= v.b.hi, "automatic_leave.%s = %d", name, v.got)
		}

		if nb.JoinAt != nil {
			require.False(t, nb.JoinAt.Before(fixedNow.Add(-JoinAtPastTolerance)), "join_at %s", nb.JoinAt)
			require.False(t, nb.JoinAt.After(fixedNow.Add(MaxJoinAtAhead)), "join_at %s", nb.JoinAt)
		}

		if nb.Recording.Enabled {
			require.Contains(t, []string{"audio", "video"}, nb.Recording.Mode)
		} else {
			require.Equal(t, store.Recording{Mode: "none"}, nb.Recording)
		}

		for _, r := range nb.BotName {
			require.False(t, unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp), "bot_name %q", nb.BotName)
		}

		// The real insert: what was accepted, Postgres stores (an owner
		// per input, so no tenant limit interferes).
		nb.Owner = uuid.NewString()
		_, err = st.CreateBot(t.Context(), nb, nil, fixedNow, RenderBot)
		require.NoError(t, err, "an accepted bot is stored: %q", body)

		if nb.CallbackURL != nil {
			require.LessOrEqual(t, len(*nb.CallbackURL), MaxCallbackURLLength)
			cb, err := url.Parse(*nb.CallbackURL)
			require.NoError(t, err)
			require.Contains(t, []string{"http", "https"}, cb.Scheme)
			require.NotEmpty(t, cb.Host)
			require.Nil(t, cb.User)
		}
	})
}
