package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
)

// Name is the platform's name in rows and metrics.
const Name = "kubernetes"

// Labels on every pod.
const (
	LabelManagedBy       = "app.kubernetes.io/managed-by" // always ManagedBy
	LabelOwner           = "meeboter.io/owner"            // Config.Owner: which controller's pods these are
	LabelBot             = "meeboter.io/bot-id"
	LabelAttempt         = "meeboter.io/attempt"
	LabelMeetingPlatform = "meeboter.io/meeting-platform"
	ManagedBy            = "meeboter"
)

// ContainerName is the bot's container in every pod.
const ContainerName = "bot"

// Config configures the platform.
type Config struct {
	Namespace string
	// Owner tells this controller's pods from another's in a shared
	// namespace (default "meeboter").
	Owner string
	// Images by meeting platform, with their tags.
	Images map[string]string
	// Resources by meeting platform; a missing one takes DefaultResources.
	Resources        map[string]corev1.ResourceRequirements
	DefaultResources corev1.ResourceRequirements
	NodeSelector     map[string]string
	Tolerations      []corev1.Toleration
	// ServiceAccount runs the pods (default: the namespace's default); its
	// token is never mounted.
	ServiceAccount string
	// PodPatch is a strategic merge patch applied to every pod (priority
	// class, security context, …).
	PodPatch []byte
	// MaxLifetime is the pods' activeDeadlineSeconds (default 3 h).
	MaxLifetime time.Duration
	// StopGrace is the pods' termination grace period (default 30 s).
	StopGrace time.Duration
	// OnChange is called after a watched pod changed, so an observer can
	// look at once instead of at its next period.
	OnChange func()
	Clock    clock.Clock
	Logger   *zap.Logger
}

func (c *Config) defaults() {
	c.Owner = cmp.Or(c.Owner, ManagedBy)
	c.MaxLifetime = cmp.Or(c.MaxLifetime, 3*time.Hour)
	c.StopGrace = cmp.Or(c.StopGrace, 30*time.Second)
	if c.OnChange == nil {
		c.OnChange = func() {}
	}
	if c.Clock == nil {
		c.Clock = clock.Wall{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// Platform runs bot workloads as pods.
type Platform struct {
	cfg      Config
	client   k8s.Interface
	selector labels.Selector
	watch    *podWatch
}

var _ platform.Platform = (*Platform)(nil)

// New starts watching the namespace's pods of cfg.Owner until ctx ends.
func New(ctx context.Context, client k8s.Interface, cfg Config) (*Platform, error) {
	cfg.defaults()
	if cfg.Namespace == "" {
		return nil, errors.New("kubernetes: no namespace")
	}
	if len(cfg.Images) == 0 {
		return nil, errors.New("kubernetes: no bot image")
	}
	if _, err := patchPod(&corev1.Pod{}, cfg.PodPatch); err != nil {
		return nil, err
	}
	p := &Platform{cfg: cfg, client: client,
		selector: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, LabelOwner: cfg.Owner})}
	p.watch = newPodWatch(p)
	changed := func(any) { cfg.OnChange() }
	if _, err := p.watch.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: changed,
		UpdateFunc: func(_, obj any) { changed(obj) }, DeleteFunc: changed}); err != nil {
		return nil, err
	}
	go p.watch.informer.RunWithContext(ctx)
	return p, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return Name }

// Create creates w's pod, or adopts the pod already named w.Name.
func (p *Platform) Create(ctx context.Context, w platform.Workload) (string, error) {
	pod, err := p.podFor(w)
	if err != nil {
		return "", err
	}
	created, err := p.client.CoreV1().Pods(p.cfg.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return p.adopt(ctx, w)
	}
	if err != nil {
		return "", createError(w.Name, err)
	}
	p.cfg.Logger.Debug("kubernetes: created pod", zap.String("pod", w.Name), zap.String("uid", string(created.UID)))
	return string(created.UID), nil
}

// adopt returns the UID of the pod named w.Name if it is w's.
func (p *Platform) adopt(ctx context.Context, w platform.Workload) (string, error) {
	pod, err := p.client.CoreV1().Pods(p.cfg.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("kubernetes: adopt pod %s: %w", w.Name, err)
	}
	l := pod.Labels
	if l[LabelOwner] != p.cfg.Owner || l[LabelBot] != w.BotID || l[LabelAttempt] != strconv.Itoa(w.Attempt) {
		return "", platform.Permanent(fmt.Errorf("kubernetes: a pod named %s exists and is not this attempt's", w.Name))
	}
	return string(pod.UID), nil
}

// Lookup finds the pod named name through the API (not the cache: it is
// asked right after a create whose answer was lost).
func (p *Platform) Lookup(ctx context.Context, name string) (platform.Listed, bool, error) {
	pod, err := p.client.CoreV1().Pods(p.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return platform.Listed{}, false, nil
	}
	if err != nil {
		return platform.Listed{}, false, fmt.Errorf("kubernetes: get pod %s: %w", name, err)
	}
	if !p.selector.Matches(labels.Set(pod.Labels)) {
		return platform.Listed{}, false, nil
	}
	return listed(pod), true, nil
}

// Stop deletes the pod and reports gone once the API server no longer has
// it. A pod still there past its grace period is deleted with a zero grace:
// a lost node's kubelet never confirms.
func (p *Platform) Stop(ctx context.Context, name, externalID string) (bool, error) {
	pods := p.client.CoreV1().Pods(p.cfg.Namespace)
	opts := metav1.DeleteOptions{}
	if externalID != "" {
		uid := types.UID(externalID)
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := pods.Delete(ctx, name, opts)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case apierrors.IsConflict(err):
		// Another pod holds the name now: this one is gone.
		return true, nil
	case err != nil:
		return false, fmt.Errorf("kubernetes: delete pod %s: %w", name, err)
	}
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && externalID != "" && string(pod.UID) != externalID) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("kubernetes: get pod %s: %w", name, err)
	}
	if lingers(pod, p.cfg.Clock.Now()) {
		p.cfg.Logger.Info("kubernetes: pod lingers past its grace period; deleting it with no grace", zap.String("pod", name))
		opts.GracePeriodSeconds = new(int64(0))
		if err := pods.Delete(ctx, name, opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, fmt.Errorf("kubernetes: force delete pod %s: %w", name, err)
		}
	}
	return false, nil
}

// lingers reports a pod being deleted for longer than its grace period and
// a little more.
func lingers(pod *corev1.Pod, now time.Time) bool {
	if pod.DeletionTimestamp == nil {
		return false
	}
	return now.After(pod.DeletionTimestamp.Add(10 * time.Second))
}

// List returns every pod of this owner: from the watch's cache when it is
// healthy, else from the API (never a partial list).
func (p *Platform) List(ctx context.Context) ([]platform.Listed, error) {
	pods, err := p.pods(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Listed, 0, len(pods))
	for _, pod := range pods {
		out = append(out, listed(pod))
	}
	return out, nil
}
