package coolifysim

import (
	"bytes"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a process's output and a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProcessWorkloadGetsExactlyTheEnv starts an app whose container is a
// shell: it sees the API's variables plus PATH and HOME, nothing of the
// simulator's own environment. /proc/$$/environ is what exec gave it.
func TestProcessWorkloadGetsExactlyTheEnv(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	script := `echo "FOO=$FOO"; tr '\0' '\n' < /proc/$$/environ; echo END; sleep 60`
	wl := ProcessWorkload([]string{"/bin/sh", "-c", script}, WithOutput(out), WithKillGrace(time.Second))
	s, c := newSim(t, Config{Workload: wl})
	uuid := c.createApp(s, nil)
	c.setEnv(uuid, map[string]string{"FOO": "bar baz", "BOT_ID": "b-1"})
	c.start(uuid)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "END") }, waitFor, tick)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "FOO=bar baz", lines[0])
	var keys []string
	for _, kv := range lines[1 : len(lines)-1] {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	want := []string{"BOT_ID", "FOO"}
	for _, k := range []string{"HOME", "PATH"} {
		if _, ok := os.LookupEnv(k); ok {
			want = append(want, k)
		}
	}
	slices.Sort(keys)
	slices.Sort(want)
	require.Equal(t, want, keys)
	require.Contains(t, lines, "BOT_ID=b-1")

	c.call(http.MethodPost, "/applications/"+uuid+"/stop", nil)
	require.Eventually(t, func() bool { return !snapshot(t, s, uuid).Running }, waitFor, tick)
	require.Equal(t, "exited:unhealthy", c.status(uuid))
}
