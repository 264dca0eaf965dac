package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Standard Webhooks (standardwebhooks.com) headers, sent beside ours so a
// receiver can verify with that specification's libraries: the HMAC-SHA256
// of "<webhook-id>.<webhook-timestamp>.<body>", base64, as "v1,<sig>".
const (
	HeaderStandardID        = standardwebhooks.HeaderWebhookID
	HeaderStandardTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderStandardSignature = standardwebhooks.HeaderWebhookSignature
)

// SecretPrefix marks a signing secret in the Standard Webhooks format: the
// key is the base64 after it.
const SecretPrefix = "whsec_"

// NewSecret makes a tenant's signing secret: 32 random bytes, in the
// Standard Webhooks format.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// signStandard is the webhook-signature value of one secret: a whsec_
// secret's key is its decoded base64, any other secret (an operator's
// WEBHOOK_SECRET) is used as bytes.
func signStandard(secret []byte, id string, at time.Time, body []byte) (string, bool) {
	var (
		wh  *standardwebhooks.Webhook
		err error
	)
	if s := string(secret); strings.HasPrefix(s, SecretPrefix) {
		wh, err = standardwebhooks.NewWebhook(s)
	} else {
		wh, err = standardwebhooks.NewWebhookRaw(secret)
	}
	if err != nil {
		return "", false
	}
	sig, err := wh.Sign(id, at, body)
	return sig, err == nil
}
