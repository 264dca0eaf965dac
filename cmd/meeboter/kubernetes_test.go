package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/meeboter/meeboter/hack/devenv/kubecluster"
	"github.com/meeboter/meeboter/hack/devenv/kubenode"
	"github.com/meeboter/meeboter/pkg/botsim"
)

// kubeCluster is a real API server with a namespace for bots and a node
// (in this test process) that runs each bot pod as a simulated bot calling
// the controller's API; serve reaches it through KUBECONFIG.
type kubeCluster struct {
	*kubecluster.Cluster
	client k8s.Interface
	node   *kubenode.Node
	ns     string
}

func kubeSystem(t *testing.T, extraEnv ...string) (*system, *kubeCluster) {
	t.Helper()
	k := &kubeCluster{Cluster: kubecluster.StartT(t), ns: "bots"}
	var err error
	k.client, err = k8s.NewForConfig(k.Config())
	require.NoError(t, err)
	ctx := t.Context()
	_, err = k.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: k.ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = k.client.CoreV1().ServiceAccounts(k.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "meeboter-bot"}},
		metav1.CreateOptions{})
	require.NoError(t, err)
	settings := botsim.DefaultSettings()
	k.node, err = kubenode.Start(ctx, k.client, kubenode.Config{Namespace: k.ns, StartLatency: 300 * time.Millisecond,
		Workload: func(ctx context.Context, env map[string]string) int { return botsim.RunWithEnv(ctx, env, settings) }})
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, k.WriteKubeconfig(kubeconfig))
	env := append([]string{"DEPLOYMENT_PLATFORM=kubernetes", "KUBECONFIG=" + kubeconfig, "KUBERNETES_NAMESPACE=" + k.ns,
		"KUBERNETES_SERVICE_ACCOUNT=meeboter-bot", "KUBERNETES_BOT_LIMIT=300", "KUBERNETES_STOP_GRACE=2s"}, extraEnv...)
	return newSystem(t, env...), k
}

// pods counts the namespace's pods.
func (k *kubeCluster) pods(t *testing.T) int {
	t.Helper()
	list, err := k.client.CoreV1().Pods(k.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return len(list.Items)
}

// TestKubernetesCrashRecovery SIGKILLs `meeboter serve` four times and
// restarts the API server once during a 200-bot run on the Kubernetes
// platform: no bot lost (each ends with a reason), none run twice (one pod
// per attempt, ever), no pod leaked.
func TestKubernetesCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: run without -short")
	}
	t.Parallel()
	s, k := kubeSystem(t)
	f := &fleet{s: s}
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)

	restarted := make(chan error, 1)
	go func() {
		time.Sleep(3 * time.Second) // mid-run: bots are being created and deployed
		restarted <- k.RestartAPIServer(context.Background())
	}()
	const bots, iterations = 200, 4
	c = crashRun{bots: bots, crashes: iterations, spread: 5 * time.Second, minCall: 1, callRange: 3,
		minUp: 700 * time.Millisecond, upRange: 2 * time.Second, down: 800 * time.Millisecond}.run(t, f, addr, logs, c)
	require.NoError(t, <-restarted)
	outcomes := f.checkConverged(t, addr, 4*time.Minute)

	require.Eventually(t, func() bool { return k.pods(t) == 0 }, time.Minute, 100*time.Millisecond, "pods leaked")
	started := k.node.Started()
	for name, n := range started {
		require.Equal(t, 1, n, "pod %s ran %d times", name, n)
	}
	require.GreaterOrEqual(t, len(started), bots, "every bot had a pod")
	t.Logf("Kubernetes crash test: %d crashes and an API server restart, %d bots, %d pods, outcomes %v",
		iterations, bots, len(started), outcomes)
	c.stop(t)
}
