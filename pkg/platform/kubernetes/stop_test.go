package kubernetes_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/kubecluster"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/kubernetes"
)

// Stop deletes the pod and says gone only once the node has confirmed it:
// until then the bot's capacity stays claimed.
func TestStopWaitsForThePodToGo(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	ctx := t.Context()
	w := workload("b1", nil)
	uid, err := b.platform.Create(ctx, w)
	require.NoError(t, err)
	b.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })

	require.Eventually(t, func() bool {
		gone, err := b.platform.Stop(ctx, w.Name, uid)
		require.NoError(t, err)
		return gone
	}, 30*time.Second, 20*time.Millisecond)
	_, err = b.client.CoreV1().Pods(b.ns).Get(ctx, w.Name, metav1.GetOptions{})
	require.Error(t, err, "the pod is gone")
	gone, err := b.platform.Stop(ctx, w.Name, uid)
	require.NoError(t, err)
	require.True(t, gone, "stopping a gone pod is no error")
	require.Eventually(t, func() bool {
		listed, err := b.platform.List(ctx)
		require.NoError(t, err)
		return len(listed) == 0
	}, 10*time.Second, 20*time.Millisecond, "the watch saw it go")
}

// A pod on a lost node is never confirmed deleted: past its grace period
// Stop deletes it with no grace, so no pod outlives its bot.
func TestStopForceDeletesAPodThatLingers(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Now())
	b := setup(t, opts{platform: kubernetes.Config{Clock: clock, StopGrace: 30 * time.Second}})
	ctx := t.Context()
	w := workload("b1", nil)
	uid, err := b.platform.Create(ctx, w)
	require.NoError(t, err)
	b.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	b.node.Lose()

	gone, err := b.platform.Stop(ctx, w.Name, uid)
	require.NoError(t, err)
	require.False(t, gone)
	l := b.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseStopping })
	require.Equal(t, uid, l.ExternalID)
	gone, err = b.platform.Stop(ctx, w.Name, uid)
	require.NoError(t, err)
	require.False(t, gone, "within its grace period the pod may still be stopping")

	clock.Advance(time.Minute)
	require.Eventually(t, func() bool {
		gone, err := b.platform.Stop(ctx, w.Name, uid)
		require.NoError(t, err)
		return gone
	}, 10*time.Second, 20*time.Millisecond)
}

// The API server restarts: the watch breaks, and the platform misses no
// change — List reads the API until the cache has caught up, and the
// changes after the restart reach the observer.
func TestWatchResumesAfterAPIServerRestart(t *testing.T) {
	t.Parallel()
	c := kubecluster.StartT(t)
	b := setup(t, opts{cluster: c})
	ctx := t.Context()
	before := workload("before", nil)
	_, err := b.platform.Create(ctx, before)
	require.NoError(t, err)
	b.waitListed(t, before.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })

	require.NoError(t, c.RestartAPIServer(ctx))
	changes := b.changes.Load()
	after := workload("after", map[string]string{"RUN_FOR": "100ms", "EXIT_CODE": "0"})
	_, err = b.platform.Create(ctx, after)
	require.NoError(t, err)
	l := b.waitListed(t, after.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseExited })
	require.Equal(t, 0, *l.ExitCode)
	require.Eventually(t, func() bool { return b.changes.Load() > changes }, 30*time.Second, 20*time.Millisecond,
		"the resumed watch tells the observer")
	l = b.waitListed(t, before.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	require.NotEmpty(t, l.ExternalID)
}
