package childproc

import (
	"bufio"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStopAsksThenKills(t *testing.T) {
	t.Parallel()
	polite, err := Start(exec.Command("sleep", "60"))
	require.NoError(t, err)
	alreadyExited, killed := polite.Stop(syscall.SIGTERM, 5*time.Second)
	require.False(t, alreadyExited)
	require.False(t, killed, "sleep ends on SIGTERM")
	require.Error(t, polite.Err(), "it ended by the signal")

	cmd := exec.Command("sh", "-c", `trap "" TERM; echo ready; exec sleep 60`)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stubborn, err := Start(cmd)
	require.NoError(t, err)
	_, err = bufio.NewReader(out).ReadString('\n') // TERM is ignored from here on
	require.NoError(t, err)
	_, killed = stubborn.Stop(syscall.SIGTERM, 200*time.Millisecond)
	require.True(t, killed)

	done, err := Start(exec.Command("true"))
	require.NoError(t, err)
	<-done.Exited()
	require.NoError(t, done.Err())
	alreadyExited, _ = done.Stop(syscall.SIGTERM, time.Second)
	require.True(t, alreadyExited)

	_, err = Start(exec.Command("/nonexistent/binary"))
	require.Error(t, err)
}
