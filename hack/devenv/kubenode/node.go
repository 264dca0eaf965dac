package kubenode

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Config configures a node.
type Config struct {
	// Name is the node's name (default "sim-node").
	Name      string
	Namespace string
	// Workload runs a started container with its environment.
	Workload simcontainer.Workload
	// StartLatency is how long a bound pod takes to run (image pull,
	// container start).
	StartLatency time.Duration
	// ImagePullFails reports images whose pull fails.
	ImagePullFails func(image string) bool
	// OOMAfter, when it returns > 0, kills the container that long after
	// it started, as the kernel's OOM killer would (exit 137, OOMKilled).
	OOMAfter func(pod *corev1.Pod) time.Duration
	// Logf receives what the node could not do (default: nothing).
	Logf func(format string, args ...any)
}

// Node plays scheduler and kubelet for one namespace's pods.
type Node struct {
	cfg    Config
	client k8s.Interface
	life   context.Context // the node's: Start's ctx

	mu      sync.Mutex
	pods    map[types.UID]*running
	started map[string]int // pods started, by name
	lost    bool
}

// running is one pod the node has taken.
type running struct {
	cancel   context.CancelCauseFunc
	done     chan struct{}
	deleting bool // guarded by Node.mu
}

// Start registers the node and plays it until ctx ends.
func Start(ctx context.Context, client k8s.Interface, cfg Config) (*Node, error) {
	if cfg.Name == "" {
		cfg.Name = "sim-node"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	n := &Node{cfg: cfg, client: client, life: ctx, pods: map[types.UID]*running{}, started: map[string]int{}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: cfg.Name}, Status: corev1.NodeStatus{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"),
			corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("1000")}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("kubenode: register node: %w", err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(cfg.Namespace))
	inf := factory.Core().V1().Pods().Informer()
	handle := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			go n.handle(ctx, pod.DeepCopy())
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: handle,
		UpdateFunc: func(_, obj any) { handle(obj) }}); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("kubenode: pod watch never synced: %w", ctx.Err())
	}
	return n, nil
}

// handle moves one pod on: bind it, start it, or finish its deletion.
func (n *Node) handle(ctx context.Context, pod *corev1.Pod) {
	n.mu.Lock()
	lost := n.lost
	n.mu.Unlock()
	switch {
	case lost:
		return // a lost node does nothing, not even confirm deletions
	case pod.DeletionTimestamp != nil:
		n.terminate(ctx, pod)
	case pod.Spec.NodeName == "":
		n.bind(ctx, pod)
	case pod.Spec.NodeName == n.cfg.Name && pod.Status.Phase == corev1.PodPending:
		n.start(ctx, pod)
	}
}

// bind schedules the pod on this node, as the scheduler would.
func (n *Node) bind(ctx context.Context, pod *corev1.Pod) {
	n.persist(ctx, "bind "+pod.Name, func() error {
		err := n.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: n.cfg.Name}}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) {
			return nil // bound already
		}
		return err
	})
}

// persist retries fn until it succeeds, its pod is gone or ctx ends: the
// API server may be restarting, and neither a scheduler nor a kubelet gives
// up on a pod for that.
func (n *Node) persist(ctx context.Context, what string, fn func() error) {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		err := fn()
		if err == nil || apierrors.IsNotFound(err) {
			return
		}
		n.cfg.Logf("kubenode: %s: %v (retrying)", what, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// start runs the pod's container once, after the start latency.
func (n *Node) start(ctx context.Context, pod *corev1.Pod) {
	n.mu.Lock()
	if _, taken := n.pods[pod.UID]; taken {
		n.mu.Unlock()
		return
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	n.pods[pod.UID] = r
	n.started[pod.Name]++
	n.mu.Unlock()
	go n.run(runCtx, pod, r)
}

// Started counts the pods the node started, by name: a name started twice
// is a workload run twice.
func (n *Node) Started() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.started)
}
