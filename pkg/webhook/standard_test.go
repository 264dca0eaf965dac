package webhook_test

import (
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// A delivery signed with a tenant's old and new secret (a rotation's
// overlap) verifies under either, with our Verify and with the Standard
// Webhooks library receivers use; a third secret verifies under neither.
func TestSignedWithEverySecretInBothFormats(t *testing.T) {
	t.Parallel()
	old, current, other := webhook.NewSecret(), webhook.NewSecret(), webhook.NewSecret()
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, current)
	url, got := newReceiver(t, []byte(old))
	body := testBody(t)

	_, err := (&webhook.Sender{Destinations: loopback}).SendSigned(t.Context(), url, body, [][]byte{[]byte(old), []byte(current)})
	require.NoError(t, err)
	d := <-got
	require.NoError(t, d.err)
	require.Equal(t, d.header.Get(webhook.HeaderEventID), d.header.Get(webhook.HeaderStandardID))
	require.Equal(t, d.header.Get(webhook.HeaderTimestamp), d.header.Get(webhook.HeaderStandardTimestamp))

	for _, secret := range []string{old, current} {
		require.NoError(t, webhook.Verify([]byte(secret), d.header, d.body, time.Now(), 0))
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		require.NoError(t, wh.Verify(d.body, d.header), "a Standard Webhooks library verifies it")
	}
	require.ErrorIs(t, webhook.Verify([]byte(other), d.header, d.body, time.Now(), 0), webhook.ErrBadSignature)
	wh, err := standardwebhooks.NewWebhook(other)
	require.NoError(t, err)
	require.Error(t, wh.Verify(d.body, d.header), "another tenant's secret does not")
}
