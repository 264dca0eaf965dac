package kubenode

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Why a container was stopped.
var (
	errDeleted  = errors.New("kubenode: pod deleted")
	errDeadline = errors.New("kubenode: active deadline exceeded")
	// These kill at once: no SIGTERM, no grace, nothing said.
	errOOM      = fmt.Errorf("kubenode: OOM killed: %w", simcontainer.ErrKilled)
	errEvicted  = fmt.Errorf("kubenode: evicted: %w", simcontainer.ErrKilled)
	errNodeLost = fmt.Errorf("kubenode: node lost: %w", simcontainer.ErrKilled)
)

// run starts pod's container after the start latency, runs it and reports
// how it ended.
func (n *Node) run(ctx context.Context, pod *corev1.Pod, r *running) {
	defer close(r.done)
	select {
	case <-ctx.Done():
		return
	case <-time.After(n.cfg.StartLatency):
	}
	c := botContainer(pod)
	if n.cfg.ImagePullFails != nil && n.cfg.ImagePullFails(c.Image) {
		n.setStatus(pod, func(s *corev1.PodStatus) {
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, State: corev1.ContainerState{
				Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied for " + c.Image}}}}
		})
		<-ctx.Done()
		return
	}
	started := metav1.Now()
	n.setStatus(pod, func(s *corev1.PodStatus) {
		s.Phase, s.StartTime = corev1.PodRunning, &started
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}
	})
	code := n.runContainer(ctx, pod, r, c)
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errDeleted), errors.Is(cause, errNodeLost), errors.Is(cause, errEvicted):
		return // the deletion, the lost node or the eviction says the rest
	case ctx.Err() != nil && !errors.Is(cause, errOOM) && !errors.Is(cause, errDeadline):
		return // the node stopped
	}
	n.setStatus(pod, func(s *corev1.PodStatus) { terminated(s, c, code, cause, started) })
}

// runContainer runs the workload until it exits, the OOM killer or the
// active deadline kills it, or the pod is stopped.
func (n *Node) runContainer(ctx context.Context, pod *corev1.Pod, r *running, c corev1.Container) int {
	grace := 30 * time.Second
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	exited := make(chan int, 1)
	go func() { exited <- n.cfg.Workload(simcontainer.WithStopGrace(ctx, grace), envOf(c)) }()
	var oom, deadline <-chan time.Time
	if n.cfg.OOMAfter != nil {
		if d := n.cfg.OOMAfter(pod); d > 0 {
			oom = time.After(d)
		}
	}
	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil {
		deadline = time.After(time.Duration(*ads) * time.Second)
	}
	select {
	case code := <-exited:
		return code
	case <-oom:
		r.cancel(errOOM)
	case <-deadline:
		r.cancel(errDeadline)
	case <-ctx.Done():
	}
	return <-exited
}

// terminated is the status of a pod whose container ended.
func terminated(s *corev1.PodStatus, c corev1.Container, code int, cause error, started metav1.Time) {
	s.Phase = corev1.PodSucceeded
	reason := "Completed"
	if code != 0 {
		s.Phase, reason = corev1.PodFailed, "Error"
	}
	switch {
	case errors.Is(cause, errOOM):
		code, reason = 137, "OOMKilled"
	case errors.Is(cause, errDeadline):
		s.Reason, s.Message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
	}
	s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"}}
	s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, //nolint:gosec // exit codes fit
			StartedAt: started, FinishedAt: metav1.Now()}}}}
}

// terminate stops a deleted pod's container within its grace period and
// confirms the deletion, as the kubelet does.
func (n *Node) terminate(ctx context.Context, pod *corev1.Pod) {
	n.mu.Lock()
	r := n.pods[pod.UID]
	if r != nil {
		if r.deleting {
			n.mu.Unlock()
			return
		}
		r.deleting = true
	}
	n.mu.Unlock()
	if r != nil {
		r.cancel(errDeleted)
		<-r.done
	}
	n.persist(ctx, "confirm deletion of "+pod.Name, func() error {
		err := n.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsConflict(err) {
			return nil // another pod holds the name: this one is gone
		}
		return err
	})
}

// Evict fails the named pod as the kubelet does under node pressure.
func (n *Node) Evict(ctx context.Context, name string) error {
	pod, err := n.client.CoreV1().Pods(n.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	n.stop(pod, errEvicted)
	n.setStatus(pod, func(s *corev1.PodStatus) {
		s.Phase, s.Reason, s.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		s.Conditions = append(s.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget,
			Status: corev1.ConditionTrue, Reason: "TerminationByKubelet"})
		for i := range s.ContainerStatuses {
			s.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "Error", FinishedAt: metav1.Now()}}
		}
	})
	return nil
}

// Lose makes the node vanish: its containers die and it answers nothing
// more, not even deletions, as a node cut off from the cluster.
func (n *Node) Lose() {
	n.mu.Lock()
	n.lost = true
	rs := make([]*running, 0, len(n.pods))
	for _, r := range n.pods {
		rs = append(rs, r)
	}
	n.mu.Unlock()
	for _, r := range rs {
		r.cancel(errNodeLost)
	}
}

// stop kills a running pod's container with cause and waits for it.
func (n *Node) stop(pod *corev1.Pod, cause error) {
	n.mu.Lock()
	r := n.pods[pod.UID]
	n.mu.Unlock()
	if r != nil {
		r.cancel(cause)
		<-r.done
	}
}

// setStatus changes the pod's status, from its latest version, until it
// takes (conflicts and a restarting API server included); a pod gone
// meanwhile is left alone.
func (n *Node) setStatus(pod *corev1.Pod, change func(*corev1.PodStatus)) {
	ctx := n.life // not the container's: a status is set after it ended
	pods := n.client.CoreV1().Pods(pod.Namespace)
	n.persist(ctx, "status of "+pod.Name, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || cur.UID != pod.UID {
			return err
		}
		change(&cur.Status)
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// botContainer is the pod's "bot" container, or its first.
func botContainer(pod *corev1.Pod) corev1.Container {
	for _, c := range pod.Spec.Containers {
		if c.Name == "bot" {
			return c
		}
	}
	return pod.Spec.Containers[0]
}

// envOf is a container's literal environment.
func envOf(c corev1.Container) map[string]string {
	env := make(map[string]string, len(c.Env))
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}
