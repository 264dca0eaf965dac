package kubernetes_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meeboter/meeboter/hack/devenv/kubenode"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/kubernetes"
)

// The pod is what the configuration asks for, its bot container holds
// exactly the workload's environment, and the pod patch changes what it
// may and nothing else.
func TestCreateRunsTheBotPodAsConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{platform: kubernetes.Config{
		Resources: map[string]corev1.ResourceRequirements{"google-meet": {
			Requests: corev1.ResourceList{corev1.ResourceCPU: quantity("2"), corev1.ResourceMemory: quantity("3Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: quantity("2"), corev1.ResourceMemory: quantity("3Gi")}}},
		NodeSelector: map[string]string{"pool": "bots"},
		Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "bots", Effect: corev1.TaintEffectNoSchedule}},
		MaxLifetime:  2 * time.Hour, StopGrace: 20 * time.Second,
		PodPatch: []byte(`{"metadata":{"labels":{"team":"rec","meeboter.io/bot-id":"evil"}},
			"spec":{"priorityClassName":"","restartPolicy":"Always","automountServiceAccountToken":true,
			"containers":[{"name":"bot","env":[{"name":"STOLEN","value":"x"}],"securityContext":{"runAsNonRoot":true}}]}}`),
	}})
	w := workload("b1", map[string]string{"BOT_TOKEN": "mbt_1", "BOT_ID": "b1"})
	uid, err := b.platform.Create(t.Context(), w)
	require.NoError(t, err)

	pod := b.pod(t, w.Name)
	require.Equal(t, uid, string(pod.UID))
	require.Equal(t, map[string]string{"app.kubernetes.io/managed-by": "meeboter", "meeboter.io/owner": "meeboter",
		"meeboter.io/bot-id": "b1", "meeboter.io/attempt": "1", "meeboter.io/meeting-platform": "google-meet", "team": "rec"},
		pod.Labels, "the patch adds a label and cannot change ours")
	spec := pod.Spec
	require.Equal(t, corev1.RestartPolicyNever, spec.RestartPolicy)
	require.Equal(t, int64(7200), *spec.ActiveDeadlineSeconds)
	require.Equal(t, int64(20), *spec.TerminationGracePeriodSeconds)
	require.False(t, *spec.AutomountServiceAccountToken, "no service-account token in a bot")
	require.False(t, *spec.EnableServiceLinks, "no other services' addresses in a bot's environment")
	require.Equal(t, botSA, spec.ServiceAccountName)
	require.Equal(t, map[string]string{"pool": "bots"}, spec.NodeSelector)
	require.Contains(t, spec.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "bots",
		Effect: corev1.TaintEffectNoSchedule})
	require.Len(t, spec.Containers, 1)
	c := spec.Containers[0]
	require.Equal(t, "ghcr.io/meeboter/meeboter-google-meet-bot:v1", c.Image)
	require.Equal(t, []corev1.EnvVar{{Name: "BOT_ID", Value: "b1"}, {Name: "BOT_TOKEN", Value: "mbt_1"}}, c.Env,
		"exactly the workload's environment")
	require.True(t, c.Resources.Limits.Memory().Equal(quantity("3Gi")))
	require.True(t, c.Resources.Requests.Cpu().Equal(quantity("2")))
	require.True(t, *c.SecurityContext.RunAsNonRoot, "the patch sets what it may")

	l := b.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	require.Equal(t, uid, l.ExternalID)
	require.Positive(t, b.changes.Load(), "the watch told the observer")

	_, err = b.platform.Create(t.Context(), platform.Workload{Name: "meeboter-b2-1", BotID: "b2", Attempt: 1,
		MeetingPlatform: "teams-of-the-future"})
	require.ErrorIs(t, err, platform.ErrPermanent, "no image for that meeting platform")
}

// A create retried after a crash adopts the pod by name, whatever its
// environment; a pod of that name that is not this attempt's is refused.
func TestCreateAdoptsByName(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	w := workload("b1", map[string]string{"BOT_TOKEN": "first"})
	first, err := b.platform.Create(t.Context(), w)
	require.NoError(t, err)
	w.Env["BOT_TOKEN"] = "second"
	again, err := b.platform.Create(t.Context(), w)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, "first", b.pod(t, w.Name).Spec.Containers[0].Env[0].Value, "the running pod is kept")

	l, found, err := b.platform.Lookup(t.Context(), w.Name)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, first, l.ExternalID)
	_, found, err = b.platform.Lookup(t.Context(), "meeboter-nobody-1")
	require.NoError(t, err)
	require.False(t, found)

	other := workload("b1", nil)
	other.BotID = "someone-else"
	_, err = b.platform.Create(t.Context(), other)
	require.ErrorIs(t, err, platform.ErrPermanent)
}

// A ResourceQuota's refusal is no capacity (the controller tries its next
// platform); a missing service account or a role without create is a
// permanent error, not capacity.
func TestRefusedCreates(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	ctx := t.Context()
	b.admitNoPod(t)
	_, err := b.platform.Create(ctx, workload("b1", nil))
	require.ErrorIs(t, err, platform.ErrCapacity)
	require.ErrorContains(t, err, "exceeded quota")
	require.NoError(t, b.client.CoreV1().ResourceQuotas(b.ns).Delete(ctx, "bots", metav1.DeleteOptions{}))

	noSA := setup(t, opts{})
	require.NoError(t, noSA.client.CoreV1().ServiceAccounts(noSA.ns).Delete(ctx, botSA, metav1.DeleteOptions{}))
	_, err = noSA.platform.Create(ctx, workload("b2", nil))
	require.ErrorIs(t, err, platform.ErrPermanent)
	require.NotErrorIs(t, err, platform.ErrCapacity)

	// A user with no role at all.
	nobody := setup(t, opts{rest: cluster.Get(t).ConfigAs("nobody")})
	_, err = nobody.platform.Create(ctx, workload("b3", nil))
	require.ErrorIs(t, err, platform.ErrPermanent)
	require.NotErrorIs(t, err, platform.ErrCapacity)
}

// Kubernetes' reasons become stable codes on the observation.
func TestObservedReasons(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{node: kubenode.Config{
		ImagePullFails: func(image string) bool { return image == "ghcr.io/meeboter/meeboter-zoom-bot:v1" },
		OOMAfter: func(pod *corev1.Pod) time.Duration {
			if pod.Labels[kubernetes.LabelBot] == "oom" {
				return 100 * time.Millisecond
			}
			return 0
		}}})
	ctx := t.Context()
	create := func(w platform.Workload) string {
		t.Helper()
		_, err := b.platform.Create(ctx, w)
		require.NoError(t, err)
		return w.Name
	}
	exited := func(l platform.Listed) bool { return l.Phase == platform.PhaseExited }

	pull := workload("pull", nil)
	pull.MeetingPlatform = "zoom"
	l := b.waitListed(t, create(pull), exited)
	require.Equal(t, kubernetes.CodeImagePullFailed, l.Code)
	require.Nil(t, l.ExitCode)

	l = b.waitListed(t, create(workload("oom", nil)), exited)
	require.Equal(t, kubernetes.CodeOOMKilled, l.Code)
	require.Equal(t, 137, *l.ExitCode)

	l = b.waitListed(t, create(workload("ends", map[string]string{"RUN_FOR": "50ms", "EXIT_CODE": "3"})), exited)
	require.Empty(t, l.Code)
	require.Equal(t, 3, *l.ExitCode)

	l = b.waitListed(t, create(workload("done", map[string]string{"RUN_FOR": "50ms", "EXIT_CODE": "0"})), exited)
	require.Equal(t, 0, *l.ExitCode)

	evicted := create(workload("evicted", nil))
	b.waitListed(t, evicted, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	require.NoError(t, b.node.Evict(ctx, evicted))
	l = b.waitListed(t, evicted, exited)
	require.Equal(t, kubernetes.CodeEvicted, l.Code)
}

// activeDeadlineSeconds is the bot's maximum lifetime; the node enforces it.
func TestDeadlineExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{platform: kubernetes.Config{MaxLifetime: time.Second}})
	w := workload("deadline", nil)
	_, err := b.platform.Create(t.Context(), w)
	require.NoError(t, err)
	l := b.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseExited })
	require.Equal(t, kubernetes.CodeDeadlineExceeded, l.Code)
}
