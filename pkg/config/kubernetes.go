package config

import (
	"encoding/json"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// PlatformKubernetes is the Kubernetes platform.
const PlatformKubernetes = "kubernetes"

// Kubernetes configures the Kubernetes platform: a pod per bot attempt.
type Kubernetes struct {
	// Kubeconfig is KUBECONFIG; empty means the in-cluster configuration
	// (InCluster: KUBERNETES_SERVICE_HOST is set).
	Kubeconfig string
	InCluster  bool
	Namespace  string
	// Owner labels this controller's pods (KUBERNETES_OWNER, default
	// meeboter): controllers sharing a namespace leave each other's alone.
	Owner string
	// Resources by meeting platform (KUBERNETES_RESOURCES_<PLATFORM>), else
	// DefaultResources; requests equal limits (Guaranteed QoS: the last
	// pods a node evicts).
	Resources        map[string]Resources
	DefaultResources Resources
	NodeSelector     map[string]string
	Tolerations      []Toleration
	ServiceAccount   string
	// PodPatch is a strategic merge patch (JSON) applied to every pod.
	PodPatch  string
	BotLimit  int
	StopGrace time.Duration
	// APIQPS and APIBurst are the client's own rate limit towards the API
	// server (client-go's default, 5/s, would make 200 bots wait 40 s).
	APIQPS   int
	APIBurst int
}

// Resources are a bot container's CPU and memory, as Kubernetes quantities.
type Resources struct{ CPU, Memory string }

// Toleration is a pod toleration: Exists when Value is empty.
type Toleration struct{ Key, Value, Effect string }

// Configured reports whether a cluster is reachable without more settings
// (auto-detection): in a pod, or with KUBECONFIG.
func (k Kubernetes) Configured() bool { return k.InCluster || k.Kubeconfig != "" }

func (r *reader) kubernetes() Kubernetes {
	k := Kubernetes{
		Kubeconfig:       r.str("KUBECONFIG", ""),
		InCluster:        r.str("KUBERNETES_SERVICE_HOST", "") != "",
		Namespace:        r.str("KUBERNETES_NAMESPACE", ""),
		Owner:            r.str("KUBERNETES_OWNER", "meeboter"),
		ServiceAccount:   r.str("KUBERNETES_SERVICE_ACCOUNT", ""),
		PodPatch:         r.str("KUBERNETES_POD_PATCH", ""),
		BotLimit:         r.int("KUBERNETES_BOT_LIMIT", 50, 1),
		StopGrace:        r.dur("KUBERNETES_STOP_GRACE", 30*time.Second),
		APIQPS:           r.int("KUBERNETES_API_QPS", 50, 1),
		APIBurst:         r.int("KUBERNETES_API_BURST", 100, 1),
		DefaultResources: Resources{CPU: r.quantity("KUBERNETES_CPU", "1"), Memory: r.quantity("KUBERNETES_MEMORY", "2Gi")},
		Resources:        map[string]Resources{},
		NodeSelector:     r.pairs("KUBERNETES_NODE_SELECTOR"),
		Tolerations:      r.tolerations("KUBERNETES_TOLERATIONS"),
	}
	for mp, suffix := range meetingPlatformEnv {
		name := "KUBERNETES_RESOURCES_" + suffix
		if p := r.pairs(name); len(p) > 0 {
			res := k.DefaultResources
			for key, v := range p {
				switch key {
				case "cpu":
					res.CPU = r.parseQuantity(name, v)
				case "memory":
					res.Memory = r.parseQuantity(name, v)
				default:
					r.fail(name, "want cpu=<quantity>,memory=<quantity>, got key %q", key)
				}
			}
			k.Resources[mp] = res
		}
	}
	if k.PodPatch != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(k.PodPatch), &obj); err != nil {
			r.fail("KUBERNETES_POD_PATCH", "want a JSON object (a strategic merge patch of a Pod): %v", err)
		}
	}
	return k
}

// requireKubernetes checks what the Kubernetes platform cannot run without.
func (r *reader) requireKubernetes(k Kubernetes) {
	if k.Namespace == "" {
		r.fail("KUBERNETES_NAMESPACE", "required when the platform is kubernetes: the namespace the bot pods run in")
	}
	if !k.Configured() {
		r.fail("KUBECONFIG", "required when the platform is kubernetes outside a cluster (KUBERNETES_SERVICE_HOST is not set)")
	}
}

func (r *reader) quantity(name, def string) string {
	return r.parseQuantity(name, r.str(name, def))
}

func (r *reader) parseQuantity(name, v string) string {
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		r.fail(name, "want a positive Kubernetes quantity (1, 500m, 2Gi), got %q", v)
	}
	return v
}

// pairs reads k=v,k2=v2.
func (r *reader) pairs(name string) map[string]string {
	out := map[string]string{}
	for _, kv := range list(r.str(name, "")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			r.fail(name, "want key=value pairs separated by commas, got %q", kv)
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// tolerations reads key=value:Effect or key:Effect (Exists), comma-separated.
func (r *reader) tolerations(name string) []Toleration {
	var out []Toleration
	for _, item := range list(r.str(name, "")) {
		kv, effect, _ := strings.Cut(item, ":")
		k, v, _ := strings.Cut(kv, "=")
		switch effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			r.fail(name, "effect must be NoSchedule, PreferNoSchedule or NoExecute, got %q", effect)
		}
		if strings.TrimSpace(k) == "" {
			r.fail(name, "want key=value:Effect or key:Effect, got %q", item)
			continue
		}
		out = append(out, Toleration{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Effect: effect})
	}
	return out
}
