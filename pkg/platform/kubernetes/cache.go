package kubernetes

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// syncWait bounds how long a List waits for the informer's first list.
const syncWait = 30 * time.Second

// settle is how long a new watch stream must be open before the cache is
// trusted again: the server first replays what happened since the last
// event the cache has.
const settle = time.Second

// podWatch is the pod informer, and whether its watch stream is open. The
// reflector retries a refused watch quietly (no error reaches a handler),
// so the stream itself is tracked: while none is open the cache may miss
// changes, and List reads the API instead.
type podWatch struct {
	informer cache.SharedIndexInformer
	lister   listerscorev1.PodNamespaceLister

	mu    sync.Mutex
	open  int       // watch streams open (0 or 1)
	since time.Time // when the last one opened
}

func newPodWatch(p *Platform) *podWatch {
	w := &podWatch{}
	pods := p.client.CoreV1().Pods(p.cfg.Namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = p.selector.String()
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = p.selector.String()
			s, err := pods.Watch(ctx, o)
			if err != nil {
				return nil, err
			}
			return w.track(s), nil
		},
	}
	w.informer = cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	w.lister = listerscorev1.NewPodLister(w.informer.GetIndexer()).Pods(p.cfg.Namespace)
	return w
}

// track counts s as open until its result channel closes.
func (w *podWatch) track(s watch.Interface) watch.Interface {
	w.mu.Lock()
	w.open++
	w.since = time.Now()
	w.mu.Unlock()
	out := make(chan watch.Event)
	go func() {
		defer close(out)
		defer func() {
			w.mu.Lock()
			w.open--
			w.mu.Unlock()
		}()
		for ev := range s.ResultChan() {
			out <- ev
		}
	}()
	return &trackedWatch{Interface: s, out: out}
}

// fresh reports whether the cache follows the server: a stream is open and
// has been for settle.
func (w *podWatch) fresh() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open > 0 && time.Since(w.since) >= settle
}

type trackedWatch struct {
	watch.Interface
	out chan watch.Event
}

func (t *trackedWatch) ResultChan() <-chan watch.Event { return t.out }

// Stop stops the stream and drains what is left, so the forwarding
// goroutine ends.
func (t *trackedWatch) Stop() {
	t.Interface.Stop()
	go func() {
		for range t.out {
		}
	}()
}

// pods is every pod of this owner: the informer's cache while its watch
// follows the server, else the API's own answer. Never a partial list.
func (p *Platform) pods(ctx context.Context) ([]*corev1.Pod, error) {
	if !p.watch.informer.HasSynced() {
		wait, cancel := context.WithTimeout(ctx, syncWait)
		defer cancel()
		if !cache.WaitForCacheSync(wait.Done(), p.watch.informer.HasSynced) {
			return nil, fmt.Errorf("kubernetes: the pod watch has not listed the namespace %s yet", p.cfg.Namespace)
		}
	}
	if p.watch.fresh() {
		return p.watch.lister.List(p.selector)
	}
	return p.listAPI(ctx)
}

// listAPI lists the owner's pods from the API server, a page at a time.
func (p *Platform) listAPI(ctx context.Context) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	opts := metav1.ListOptions{LabelSelector: p.selector.String(), Limit: 500}
	for {
		page, err := p.client.CoreV1().Pods(p.cfg.Namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: list pods: %w", err)
		}
		for i := range page.Items {
			out = append(out, &page.Items[i])
		}
		if page.Continue == "" {
			return out, nil
		}
		opts.Continue = page.Continue
	}
}
