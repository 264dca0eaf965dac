package app

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/config"
)

// serveWith runs the API's listeners as serve builds them, with env's
// settings and h as the API handler; it returns the API address.
func serveWith(t *testing.T, env map[string]string, h http.Handler) string {
	t.Helper()
	env["HTTP_ADDR"], env["METRICS_ADDR"] = "127.0.0.1:0", "127.0.0.1:0"
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	l, err := listen(cfg, h, http.NotFoundHandler())
	require.NoError(t, err)
	go func() { _ = l.serve(t.Context(), zap.NewNop()) }()
	t.Cleanup(func() { l.shutdown(t.Context()) })
	return l.lns[0].Addr().String()
}

// TestSlowDripBodyIsCutOff: a client that sends its body a byte at a time
// is cut off at HTTP_READ_TIMEOUT, not served for as long as it drips.
func TestSlowDripBodyIsCutOff(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serveWith(t, map[string]string{"HTTP_READ_TIMEOUT": "300ms"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	const size = 200 // 4 s at one byte per 20 ms
	_, err = io.WriteString(conn, "POST /api/v1/bots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond) // the drip is what is tested, not a wait
		defer tick.Stop()
		for range size {
			<-tick.C
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-readErr:
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "the body read timed out, got %v", err)
		require.Less(t, time.Since(start), 2*time.Second, "cut off well before the drip ends")
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never finished reading")
	}
}

// TestHeadersAndIdleConnectionsAreBounded: oversized headers are refused
// (431) and an idle keep-alive connection is closed at HTTP_IDLE_TIMEOUT.
func TestHeadersAndIdleConnectionsAreBounded(t *testing.T) {
	t.Parallel()
	addr := serveWith(t, map[string]string{"HTTP_MAX_HEADER_BYTES": "4096", "HTTP_IDLE_TIMEOUT": "200ms"},
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	resp, err = http.ReadResponse(rd, nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = rd.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closed the idle connection")
}
