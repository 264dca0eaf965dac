package app

import (
	"context"
	"fmt"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/platform/kubernetes"
	"github.com/meeboter/meeboter/pkg/store"
)

// buildKubernetes builds the Kubernetes platform: the client from
// KUBECONFIG, else the pod's own service account; its watch wakes the
// observer.
func buildKubernetes(ctx context.Context, cfg config.Config, st *store.Store, log *zap.Logger) (platforms, error) {
	k := cfg.Kubernetes
	// client-go logs through klog (a watch that ended, a retry): into our
	// logger, JSON like every other line, not klog's text on stderr.
	klog.SetSlogLogger(slog.New(zapslog.NewHandler(log.Named("client-go").Core())))
	rc, err := restConfig(k)
	if err != nil {
		return platforms{}, err
	}
	rc.QPS, rc.Burst = float32(k.APIQPS), k.APIBurst
	client, err := k8s.NewForConfig(rc)
	if err != nil {
		return platforms{}, fmt.Errorf("kubernetes client: %w", err)
	}
	images := map[string]string{}
	for mp := range cfg.BotImages.Repos {
		images[mp], _ = cfg.BotImages.Ref(mp)
	}
	p, err := kubernetes.New(ctx, client, kubernetes.Config{Namespace: k.Namespace, Owner: k.Owner, Images: images,
		Resources: resourcesByPlatform(k.Resources), DefaultResources: requirements(k.DefaultResources),
		NodeSelector: k.NodeSelector, Tolerations: tolerations(k.Tolerations), ServiceAccount: k.ServiceAccount,
		PodPatch: []byte(k.PodPatch), MaxLifetime: cfg.MaxBotLifetime, StopGrace: k.StopGrace,
		OnChange: wake(ctx, st, log, store.WakeObserve(kubernetes.Name)), Logger: log.Named("kubernetes")})
	if err != nil {
		return platforms{}, err
	}
	return platforms{list: []controllers.PlatformConfig{{Platform: p, Limit: k.BotLimit}}}, nil
}

func restConfig(k config.Kubernetes) (*rest.Config, error) {
	if k.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("KUBECONFIG: %w", err)
		}
		return rc, nil
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes in-cluster configuration: %w", err)
	}
	return rc, nil
}

// requirements are requests equal to limits: Guaranteed QoS.
func requirements(r config.Resources) corev1.ResourceRequirements {
	list := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(r.CPU), corev1.ResourceMemory: resource.MustParse(r.Memory)}
	return corev1.ResourceRequirements{Requests: list, Limits: list.DeepCopy()}
}

func resourcesByPlatform(in map[string]config.Resources) map[string]corev1.ResourceRequirements {
	out := make(map[string]corev1.ResourceRequirements, len(in))
	for mp, r := range in {
		out[mp] = requirements(r)
	}
	return out
}

func tolerations(in []config.Toleration) []corev1.Toleration {
	out := make([]corev1.Toleration, 0, len(in))
	for _, t := range in {
		op := corev1.TolerationOpEqual
		if t.Value == "" {
			op = corev1.TolerationOpExists
		}
		out = append(out, corev1.Toleration{Key: t.Key, Operator: op, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return out
}
