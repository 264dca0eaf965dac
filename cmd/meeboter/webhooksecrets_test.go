package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tenant's first key comes with its webhook signing secret, shown once;
// a rotation shows the new one and keeps the old one signing for the
// overlap; the list never shows a secret.
func TestWebhookSecretCLI(t *testing.T) {
	t.Parallel()
	s := newSystem(t) // makes tenant e2e's first key
	secretLine := regexp.MustCompile(`webhook secret: (whsec_[A-Za-z0-9+/=]+)`)

	first := s.run("apikey", "create", "--owner", "acme")
	m := secretLine.FindStringSubmatch(first)
	require.NotNil(t, m, "the first key shows the tenant's secret: %s", first)
	again := s.run("apikey", "create", "--owner", "acme")
	require.NotContains(t, again, "webhook secret", "once only")

	rotated := s.run("webhook-secret", "rotate", "--owner", "acme", "--overlap", "1h")
	n := secretLine.FindStringSubmatch(rotated)
	require.NotNil(t, n, rotated)
	require.NotEqual(t, m[1], n[1])

	list := s.run("webhook-secret", "list")
	require.NotContains(t, list, m[1])
	require.NotContains(t, list, n[1])
	var acme []string
	for _, line := range strings.Split(list, "\n") {
		if strings.HasPrefix(line, "acme ") {
			acme = append(acme, line)
		}
	}
	require.Len(t, acme, 2, list)
	require.NotContains(t, acme[0], " -", "the old one expires after the overlap")
	require.True(t, strings.HasSuffix(strings.TrimSpace(acme[1]), "-"), "the new one does not expire")
}
