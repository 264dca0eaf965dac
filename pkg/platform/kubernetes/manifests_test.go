package kubernetes_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/meeboter/meeboter/pkg/platform"
)

const manifests = "../../../config/kubernetes"

// The manifests in config/kubernetes are created as they are (in a test
// namespace) on the real API server, which validates them; then the
// platform runs as their service account, which proves the role enough,
// and is refused what the role does not grant.
func TestManifestsApplyAndTheRoleIsEnough(t *testing.T) {
	t.Parallel()
	b := setup(t, opts{})
	ctx := t.Context()
	var created []string
	for _, obj := range decodeManifests(t) {
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			o.Namespace = b.ns
			if o.Name == botSA {
				continue // setup made it
			}
			_, err := b.client.CoreV1().ServiceAccounts(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *rbacv1.Role:
			o.Namespace = b.ns
			_, err := b.client.RbacV1().Roles(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *rbacv1.RoleBinding:
			o.Namespace = b.ns
			for i := range o.Subjects {
				o.Subjects[i].Namespace = b.ns
			}
			_, err := b.client.RbacV1().RoleBindings(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *appsv1.Deployment:
			o.Namespace = b.ns
			require.Equal(t, int32(2), *o.Spec.Replicas)
			probes := o.Spec.Template.Spec.Containers[0]
			require.Equal(t, "/healthz", probes.LivenessProbe.HTTPGet.Path)
			require.Equal(t, "/readyz", probes.ReadinessProbe.HTTPGet.Path)
			_, err := b.client.AppsV1().Deployments(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *corev1.Service:
			o.Namespace = b.ns
			_, err := b.client.CoreV1().Services(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *corev1.Secret:
			o.Namespace = b.ns
			_, err := b.client.CoreV1().Secrets(b.ns).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		default:
			t.Fatalf("unexpected manifest %T", obj)
		}
		created = append(created, obj.GetObjectKind().GroupVersionKind().Kind)
	}
	require.ElementsMatch(t, []string{"ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "Secret"}, created)

	sa := "system:serviceaccount:" + b.ns + ":meeboter"
	asController := setup(t, opts{rest: b.cluster.ConfigAs(sa, "system:serviceaccounts"), namespace: b.ns})
	w := workload("b1", map[string]string{"RUN_FOR": "1h"})
	uid, err := asController.platform.Create(ctx, w)
	require.NoError(t, err, "the role lets the controller create")
	asController.waitListed(t, w.Name, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	_, found, err := asController.platform.Lookup(ctx, w.Name)
	require.NoError(t, err)
	require.True(t, found)
	require.Eventually(t, func() bool {
		gone, err := asController.platform.Stop(ctx, w.Name, uid)
		require.NoError(t, err)
		return gone
	}, 30*time.Second, 20*time.Millisecond)

	impersonated := asController.platformClient
	_, err = impersonated.CoreV1().Secrets(b.ns).List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "the role grants no secrets: %v", err)
	_, err = impersonated.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "nor pods in another namespace: %v", err)
}

func TestPrometheusScrapeConfigParses(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(manifests, "prometheus-scrape.yaml"))
	require.NoError(t, err)
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
			SD      []struct {
				Role string `json:"role"`
			} `json:"kubernetes_sd_configs"`
		} `json:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	require.Len(t, cfg.ScrapeConfigs, 1)
	require.Equal(t, "endpoints", cfg.ScrapeConfigs[0].SD[0].Role)
}

// decodeManifests reads every Kubernetes object in config/kubernetes.
func decodeManifests(t *testing.T) []runtime.Object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	require.NoError(t, err)
	var objs []runtime.Object
	for _, f := range files {
		if filepath.Base(f) == "prometheus-scrape.yaml" {
			continue // Prometheus' configuration, not an object
		}
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			require.NoError(t, err, f)
			objs = append(objs, obj)
		}
	}
	return objs
}
