package kubernetes_test

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meeboter/meeboter/hack/devenv/kubecluster"
	"github.com/meeboter/meeboter/hack/devenv/kubenode"
	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/kubernetes"
)

// cluster is one real etcd + kube-apiserver for the package's tests; each
// test has a namespace of its own.
var cluster kubecluster.Shared

// The controller tests need Postgres too.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	cluster.Stop()
	os.Exit(code)
}

// testBundle is one test's namespace, its node and a platform on it.
type testBundle struct {
	cluster  *kubecluster.Cluster
	client   k8s.Interface
	ns       string
	node     *kubenode.Node // nil when another bundle's node serves the namespace
	platform *kubernetes.Platform
	// platformClient is the platform's client (o.rest's, else client).
	platformClient k8s.Interface
	changes        atomic.Int64 // OnChange calls
}

type opts struct {
	node     kubenode.Config
	platform kubernetes.Config
	// cluster, when set, is used instead of the shared one.
	cluster *kubecluster.Cluster
	// rest, when set, is the platform's client configuration (a service
	// account's, say).
	rest *rest.Config
	// namespace, when set, is another bundle's: its node serves it.
	namespace string
}

const botSA = "meeboter-bot"

func setup(t *testing.T, o opts) *testBundle {
	t.Helper()
	c := o.cluster
	if c == nil {
		c = cluster.Get(t)
	}
	b := &testBundle{cluster: c, ns: "t-" + strings.ToLower(rand.Text()[:12])}
	var err error
	b.client, err = k8s.NewForConfig(c.Config())
	require.NoError(t, err)
	ctx := t.Context()
	if o.namespace != "" {
		b.ns = o.namespace
	} else {
		b.startNamespace(t, o.node)
	}

	pc := o.platform
	pc.Namespace, pc.ServiceAccount = b.ns, botSA
	if pc.Images == nil {
		pc.Images = map[string]string{"google-meet": "ghcr.io/meeboter/meeboter-google-meet-bot:v1",
			"zoom": "ghcr.io/meeboter/meeboter-zoom-bot:v1"}
	}
	onChange := pc.OnChange
	pc.OnChange = func() {
		b.changes.Add(1)
		if onChange != nil {
			onChange()
		}
	}
	pc.Logger = zaptest.NewLogger(t)
	b.platformClient = b.client
	if o.rest != nil {
		b.platformClient, err = k8s.NewForConfig(o.rest)
		require.NoError(t, err)
	}
	b.platform, err = kubernetes.New(ctx, b.platformClient, pc)
	require.NoError(t, err)
	return b
}

// startNamespace creates the bundle's namespace, the bots' service
// account and a node serving the namespace.
func (b *testBundle) startNamespace(t *testing.T, nc kubenode.Config) {
	t.Helper()
	ctx := t.Context()
	_, err := b.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = b.client.CoreV1().ServiceAccounts(b.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: botSA}},
		metav1.CreateOptions{})
	require.NoError(t, err)
	nc.Name, nc.Namespace, nc.Logf = "node-"+b.ns, b.ns, t.Logf
	if nc.Workload == nil {
		nc.Workload = scriptedBot
	}
	b.node, err = kubenode.Start(ctx, b.client, nc)
	require.NoError(t, err)
}

// scriptedBot is a container that runs until stopped, or for RUN_FOR and
// then exits with EXIT_CODE.
func scriptedBot(ctx context.Context, env map[string]string) int {
	d, err := time.ParseDuration(env["RUN_FOR"])
	if err != nil {
		<-ctx.Done()
		return 143
	}
	select {
	case <-ctx.Done():
		return 143
	case <-time.After(d):
	}
	code, _ := strconv.Atoi(env["EXIT_CODE"])
	return code
}

// workload is attempt 1 of a bot on Google Meet with env.
func workload(bot string, env map[string]string) platform.Workload {
	return platform.Workload{Name: "meeboter-" + bot + "-1", BotID: bot, Attempt: 1, MeetingPlatform: "google-meet", Env: env}
}

// waitListed waits until List shows the workload named name meeting cond,
// and returns it.
func (b *testBundle) waitListed(t *testing.T, name string, cond func(platform.Listed) bool) platform.Listed {
	t.Helper()
	var last platform.Listed
	var listErr error
	require.Eventually(t, func() bool {
		listed, err := b.platform.List(t.Context())
		if listErr = err; err != nil {
			return false
		}
		for _, l := range listed {
			if l.Name == name {
				last = l
				return cond(l)
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "%s never reached the condition; last listed %+v (list error %v)", name, &last, &listErr)
	return last
}

// pod reads the named pod from the API.
func (b *testBundle) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	pod, err := b.client.CoreV1().Pods(b.ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return pod
}

func quantity(s string) resource.Quantity { return resource.MustParse(s) }

// admitNoPod sets a ResourceQuota of zero pods on the bundle's namespace.
// No controller manager computes a quota's status here: it is set as the
// quota controller would.
func (b *testBundle) admitNoPod(t *testing.T) {
	t.Helper()
	quotas := b.client.CoreV1().ResourceQuotas(b.ns)
	quota, err := quotas.Create(t.Context(), &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "bots"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: quantity("0")}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourcePods: quantity("0")}}
	_, err = quotas.UpdateStatus(t.Context(), quota, metav1.UpdateOptions{})
	require.NoError(t, err)
}
