package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// Every form of an internal address is refused, public ones pass, and the
// allow-list opens exactly what it names.
func TestDestinationsCheckAddr(t *testing.T) {
	t.Parallel()
	internal := []string{
		"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.255",
		"169.254.169.254", "169.254.170.2", "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254",
		"224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.170",
		"::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
		"2001:db8::1",
	}
	var d webhook.Destinations
	for _, a := range internal {
		require.ErrorIs(t, d.CheckAddr(netip.MustParseAddr(a)), webhook.ErrForbiddenDestination, a)
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "172.32.0.1", "100.128.0.1"} {
		require.NoError(t, d.CheckAddr(netip.MustParseAddr(a)), a)
	}

	allow, err := webhook.ParseDestinations("10.1.0.0/16, ::1, receivers.internal")
	require.NoError(t, err)
	require.NoError(t, allow.CheckAddr(netip.MustParseAddr("10.1.2.3")))
	require.NoError(t, allow.CheckAddr(netip.MustParseAddr("::1")))
	require.ErrorIs(t, allow.CheckAddr(netip.MustParseAddr("10.2.0.1")), webhook.ErrForbiddenDestination)
	require.ErrorIs(t, allow.CheckAddr(netip.MustParseAddr("127.0.0.1")), webhook.ErrForbiddenDestination)
	_, err = webhook.ParseDestinations("10.0.0.0/33")
	require.Error(t, err)
}

// At create, literal addresses in any spelling and names that only resolve
// inside a network are refused without a DNS lookup.
func TestDestinationsCheckURL(t *testing.T) {
	t.Parallel()
	var d webhook.Destinations
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://[::1]:8080/", "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/",
		"http://127.1/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/v2/credentials",
		"http://[::ffff:127.0.0.1]/", "http://[fd00:ec2::254]/", "http://localhost:5432/", "http://LOCALHOST./",
		"http://metadata.google.internal/computeMetadata/v1/", "http://postgres:5432/", "http://printer.local/",
		"http://api.localhost/", "http://0.0.0.0:9000/",
	} {
		require.ErrorIs(t, d.CheckURL(u), webhook.ErrForbiddenDestination, u)
	}
	for _, u := range []string{"ftp://example.com/", "/relative", "http://", "http://[::1"} {
		err := d.CheckURL(u)
		require.Error(t, err, u)
		require.NotErrorIs(t, err, webhook.ErrForbiddenDestination, u)
	}
	for _, u := range []string{"https://hooks.example.com/meeboter?token=x", "http://8.8.8.8/", "https://[2606:4700::1]/"} {
		require.NoError(t, d.CheckURL(u), u)
	}
	allow, err := webhook.ParseDestinations("127.0.0.0/8,localhost")
	require.NoError(t, err)
	require.NoError(t, allow.CheckURL("http://localhost:8080/hook"))
	require.NoError(t, allow.CheckURL("http://127.0.0.1:8080/hook"))
}

// A name that resolves to loopback passes the create check's syntax but
// not the dial: the receiver is never reached, and the result says why
// with a code, not the network error.
func TestSenderRefusesInternalDestinationsAtDial(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	for _, u := range []string{srv.URL, byName} {
		res, err := (&webhook.Sender{}).Send(t.Context(), u+"/hook", testBody(t))
		require.ErrorIs(t, err, webhook.ErrForbiddenDestination, u)
		require.Equal(t, webhook.ReasonForbiddenDestination, res.Reason)
		require.False(t, res.Retryable, "no retry changes the answer")
		require.Zero(t, res.StatusCode)
	}
	require.Zero(t, hits.Load(), "nothing reached the internal receiver")

	allowed := &webhook.Sender{Destinations: webhook.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	_, err := allowed.Send(t.Context(), byName+"/hook", testBody(t))
	require.NoError(t, err, "an operator's allow-list opens it")
	require.EqualValues(t, 1, hits.Load())
}
