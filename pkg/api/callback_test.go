package api

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// A callback_url that reaches inside our network, in any spelling, is a
// 422 at create and at PATCH and writes nothing; an operator's allow-list
// opens exactly what it names.
func TestCallbackURLMustBePublic(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(s *Server) {
		s.Config.Callbacks, _ = webhook.ParseDestinations("10.9.0.0/16,hooks.corp")
	})
	internal := []string{
		"http://127.0.0.1:5432/", "http://[::1]/", "http://0x7f000001/", "http://2130706433/", "http://10.0.0.1/",
		"http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/v2/credentials", "http://[::ffff:127.0.0.1]/",
		"http://metadata.google.internal/computeMetadata/v1/", "http://localhost:9000/", "http://postgres/",
		"http://100.64.0.1/", "http://[fd00:ec2::254]/",
	}
	before := b.counts(t)
	for _, u := range internal {
		r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, `{"meeting_url":"https://meet.google.com/abc-defg-hij","callback_url":`+strconv.Quote(u)+`}`)
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Contains(t, string(r.body), "callback_url", u)
	}
	require.Equal(t, before, b.counts(t), "nothing written")

	for _, u := range []string{"https://hooks.example.com/x", "http://10.9.1.2:8080/hook", "https://hooks.corp/meeboter"} {
		created := b.create(t, b.acme, `{"meeting_url":"https://meet.google.com/abc-defg-hij","callback_url":`+strconv.Quote(u)+`}`)
		require.Equal(t, u, *created.CallbackURL)
	}

	bot := b.create(t, b.acme, `{"meeting_url":"https://meet.google.com/abc-defg-hij","join_at":"`+t0.Add(3600e9).Format("2006-01-02T15:04:05Z")+`"}`)
	b.patch(t, bot.ID, `{"callback_url":"http://169.254.169.254/"}`, http.StatusUnprocessableEntity)
	require.Nil(t, b.get(t, b.acme, bot.ID).CallbackURL, "the refused PATCH changed nothing")
	b.requireValidated(t)
}
