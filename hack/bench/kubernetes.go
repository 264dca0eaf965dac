package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/meeboter/meeboter/hack/devenv/kubecluster"
	"github.com/meeboter/meeboter/hack/devenv/kubenode"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
)

const (
	// kubeBots are created at once; kubeStartLatency is the test node's
	// time from a bound pod to its running container (an image already on
	// the node).
	kubeBots         = 200
	kubeStartLatency = 2 * time.Second
	kubeDatabase     = "meeboter_bench_kubernetes"
	// kubeQPS and kubeBurst are the controller's client rate limit
	// (KUBERNETES_API_QPS, KUBERNETES_API_BURST, their defaults).
	kubeQPS       = 50
	kubeBurst     = 100
	kubeNamespace = "bots"
)

// KubernetesResult is the "kubernetes" object of bench.json: `meeboter
// serve` on a real kube-apiserver whose test node starts each pod after
// kubeStartLatency and runs its bot in-process.
type KubernetesResult struct {
	Bots           int     `json:"bots"`
	StartLatencyMs float64 `json:"node_start_latency_ms"`
	// SingleMs is one bot alone, create to IN_CALL: the floor (the node's
	// start, the bot's own join, the controller's round trips).
	SingleMs float64 `json:"single_create_to_in_call_ms"`
	// Create to IN_CALL of each of Bots created at once.
	P50Ms float64 `json:"create_to_in_call_p50_ms"`
	P99Ms float64 `json:"create_to_in_call_p99_ms"`
	MaxMs float64 `json:"create_to_in_call_max_ms"`
	// RatioP99 is P99Ms over SingleMs: what a burst costs over one bot.
	RatioP99 float64 `json:"ratio_p99_to_single"`
	// BoundMs is one bot alone plus the wait the client's own rate limit
	// imposes on the last create ((Bots − burst) / QPS); RatioToBound is
	// P99Ms over it.
	BoundMs         float64 `json:"bound_ms"`
	RatioToBound    float64 `json:"ratio_p99_to_bound"`
	AllInCallSecs   float64 `json:"time_to_all_in_call_seconds"`
	PodsStarted     int     `json:"pods_started"`
	PodsLeftAtEnd   int     `json:"pods_left_at_end"`
	WallSeconds     float64 `json:"wall_seconds"`
	APIServerStartS float64 `json:"apiserver_start_seconds"`
}

// kubeRun is one run of the Kubernetes part.
type kubeRun struct {
	dir, bin string
	cluster  *kubecluster.Cluster
	client   k8s.Interface
	node     *kubenode.Node
	ctrl     *controller
	api      *userAPI
	apiKey   string
	dbURL    string
	cleanup  []func()
}

func runKubernetes(ctx context.Context, adminURL string) (*KubernetesResult, error) {
	start := time.Now()
	r := &kubeRun{}
	defer func() {
		for i := len(r.cleanup) - 1; i >= 0; i-- {
			r.cleanup[i]()
		}
	}()
	res := &KubernetesResult{Bots: kubeBots, StartLatencyMs: ms(kubeStartLatency)}
	t := time.Now()
	if err := r.bringUp(ctx, adminURL); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	res.APIServerStartS = seconds(time.Since(t))
	single, err := r.wave(ctx, 1)
	if err != nil {
		return nil, err
	}
	res.SingleMs = single[0]
	t = time.Now()
	lat, err := r.wave(ctx, kubeBots)
	if err != nil {
		return nil, err
	}
	res.AllInCallSecs = seconds(time.Since(t))
	slices.Sort(lat)
	res.P50Ms, res.P99Ms, res.MaxMs = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	res.RatioP99 = res.P99Ms / res.SingleMs
	res.BoundMs = res.SingleMs + float64(max(kubeBots-kubeBurst, 0))/kubeQPS*1000
	res.RatioToBound = res.P99Ms / res.BoundMs
	res.PodsStarted = len(r.node.Started())
	res.PodsLeftAtEnd, err = r.waitNoPods(ctx)
	if err != nil {
		return nil, err
	}
	res.WallSeconds = seconds(time.Since(start))
	fmt.Fprintf(os.Stderr, "kubernetes: %d bots at once, create→IN_CALL p50 %.0f ms p99 %.0f ms (one alone %.0f ms, node start %v; "+
		"bound with the client's %d/s after %d %.0f ms): p99 %.2f× the bound, %.2f× one bot; %d pods, %d left\n",
		res.Bots, res.P50Ms, res.P99Ms, res.SingleMs, kubeStartLatency, kubeQPS, kubeBurst, res.BoundMs, res.RatioToBound,
		res.RatioP99, res.PodsStarted, res.PodsLeftAtEnd)
	return res, nil
}

// bringUp builds meeboter, makes its database, starts the control plane,
// the node and the controller.
func (r *kubeRun) bringUp(ctx context.Context, adminURL string) error {
	dir, err := os.MkdirTemp("", "meeboter-bench-kubernetes-")
	if err != nil {
		return err
	}
	r.dir = dir
	r.cleanup = append(r.cleanup, func() { _ = os.RemoveAll(dir) })
	if r.bin, err = buildMeeboter(ctx, filepath.Join(dir, "bin")); err != nil {
		return err
	}
	d, err := newProcessDatabase(ctx, r.bin, adminURL, kubeDatabase, &r.cleanup)
	if err != nil {
		return err
	}
	r.dbURL, r.apiKey = d.url, d.apiKey
	if r.cluster, err = kubecluster.Start(ctx, kubecluster.Config{Dir: filepath.Join(dir, "kube")}); err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, r.cluster.Stop)
	if err := r.startNode(ctx); err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := r.cluster.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	env := []string{"DATABASE_URL=" + r.dbURL, "LOG_FORMAT=json", "LOG_LEVEL=info", "DEPLOYMENT_PLATFORM=kubernetes",
		"KUBECONFIG=" + kubeconfig, "KUBERNETES_NAMESPACE=" + kubeNamespace, "KUBERNETES_SERVICE_ACCOUNT=meeboter-bot",
		"KUBERNETES_BOT_LIMIT=" + strconv.Itoa(kubeBots+10), "KUBERNETES_API_QPS=" + strconv.Itoa(kubeQPS),
		"KUBERNETES_API_BURST=" + strconv.Itoa(kubeBurst), "KUBERNETES_STOP_GRACE=5s", "JOB_TIMEOUT=10s"}
	r.ctrl, r.api, err = startServe(ctx, r.bin, dir, env, r.apiKey, &r.cleanup)
	return err
}

// startNode makes the bots' namespace and service account and the node
// that runs their pods; its bots stay in the call until told to leave.
func (r *kubeRun) startNode(ctx context.Context) error {
	var err error
	if r.client, err = k8s.NewForConfig(r.cluster.Config()); err != nil {
		return err
	}
	if _, err := r.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kubeNamespace}},
		metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := r.client.CoreV1().ServiceAccounts(kubeNamespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "meeboter-bot"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	shared := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	settings := botsim.DefaultSettings()
	settings.CallDuration = 0
	nodeCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.cleanup = append(r.cleanup, stop)
	r.node, err = kubenode.Start(nodeCtx, r.client, kubenode.Config{Namespace: kubeNamespace, StartLatency: kubeStartLatency,
		Workload: func(ctx context.Context, env map[string]string) int {
			return botsim.RunWithEnv(ctx, env, settings, botsim.WithClientOptions(botproto.WithHTTPClient(shared)))
		}})
	return err
}

// wave creates n bots at once, waits until all are IN_CALL, cancels them,
// and returns each one's create→IN_CALL in milliseconds (its timeline's
// IN_CALL event after the moment its create was sent).
func (r *kubeRun) wave(ctx context.Context, n int) ([]float64, error) {
	ids := make([]string, n)
	sent := make([]time.Time, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sent[i] = time.Now()
			b, err := r.api.create(ctx, map[string]any{"meeting_url": coolifyMeetingURL}, fmt.Sprintf("kube-%d-%d", n, i))
			ids[i] = b.ID
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	lat := make([]float64, n)
	deadline := time.Now().Add(5 * time.Minute)
	for i, id := range ids {
		for {
			evs, err := r.api.events(ctx, id)
			if err != nil {
				return nil, err
			}
			if at := firstOf(evs, "IN_CALL"); !at.IsZero() {
				lat[i] = ms(at.Sub(sent[i]))
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("kubernetes: bot %s not IN_CALL after 5 minutes", id)
			}
			time.Sleep(100 * time.Millisecond) // polling the API as a customer would
		}
	}
	for _, id := range ids {
		var out struct{}
		if _, err := r.api.do(ctx, http.MethodDelete, "/api/v1/bots/"+id, nil, "", &out); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// waitNoPods waits until every pod is gone, up to a minute, and returns
// how many are left.
func (r *kubeRun) waitNoPods(ctx context.Context) (int, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := r.client.CoreV1().Pods(kubeNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		if len(list.Items) == 0 || time.Now().After(deadline) {
			return len(list.Items), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}
