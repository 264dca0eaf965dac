package kubernetes

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Stable reasons (platform.Observation.Code) for what Kubernetes reports
// in words that change between versions and expire with its events.
const (
	CodeImagePullFailed  = "image_pull_failed" // the image cannot be pulled (or its name is invalid)
	CodeConfigError      = "config_error"      // the container cannot be created from its spec
	CodeUnschedulable    = "unschedulable"     // no node fits the pod (yet)
	CodeOOMKilled        = "oom_killed"        // the bot went over its memory limit
	CodeEvicted          = "evicted"           // the kubelet evicted the pod (node pressure)
	CodeDeadlineExceeded = "deadline_exceeded" // activeDeadlineSeconds: the bot's maximum lifetime
	CodeNodeLost         = "node_lost"         // the node went away under the pod
)

// listed is pod as the controller sees it.
func listed(pod *corev1.Pod) platform.Listed {
	return platform.Listed{Name: pod.Name, ExternalID: string(pod.UID), CreatedAt: pod.CreationTimestamp.Time,
		Observation: observe(pod)}
}

// observe maps a pod's phase, container state and reasons to an
// Observation.
func observe(pod *corev1.Pod) platform.Observation {
	bot := botStatus(pod)
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case terminal || (bot != nil && bot.State.Terminated != nil):
		return exited(pod, bot)
	case pod.DeletionTimestamp != nil:
		return platform.Observation{Phase: platform.PhaseStopping, Reason: "pod is being deleted"}
	case pod.Status.Phase == corev1.PodRunning:
		return platform.Observation{Phase: platform.PhaseRunning, Reason: "pod running"}
	case pod.Status.Phase == corev1.PodPending:
		return pending(pod, bot)
	}
	return platform.Observation{Phase: platform.PhaseUnknown, Reason: "pod phase " + string(pod.Status.Phase)}
}

// pending is a pod not running yet: a container that cannot start is an
// exit (a retry is the controller's to decide; kubelet's back-off would
// hold the bot past its meeting).
func pending(pod *corev1.Pod, bot *corev1.ContainerStatus) platform.Observation {
	if bot != nil && bot.State.Waiting != nil {
		w := bot.State.Waiting
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
			return platform.Observation{Phase: platform.PhaseExited, Code: CodeImagePullFailed, Reason: words(w.Reason, w.Message)}
		case "CreateContainerConfigError", "CreateContainerError":
			return platform.Observation{Phase: platform.PhaseExited, Code: CodeConfigError, Reason: words(w.Reason, w.Message)}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return platform.Observation{Phase: platform.PhasePending, Code: CodeUnschedulable, Reason: words(c.Reason, c.Message)}
		}
	}
	if pod.Spec.NodeName != "" {
		return platform.Observation{Phase: platform.PhaseStarting, Reason: "scheduled on " + pod.Spec.NodeName}
	}
	return platform.Observation{Phase: platform.PhasePending, Reason: "pod pending"}
}

// exited is a pod whose bot has ended, with its exit code when known.
func exited(pod *corev1.Pod, bot *corev1.ContainerStatus) platform.Observation {
	o := platform.Observation{Phase: platform.PhaseExited, Reason: words(pod.Status.Reason, pod.Status.Message)}
	if bot != nil && bot.State.Terminated != nil {
		t := bot.State.Terminated
		o.ExitCode = new(int(t.ExitCode))
		if t.Reason == "OOMKilled" {
			o.Code = CodeOOMKilled
		}
		if o.Reason == "" {
			o.Reason = words(t.Reason, t.Message)
		}
	}
	switch pod.Status.Reason {
	case "Evicted":
		o.Code = CodeEvicted
	case "DeadlineExceeded":
		o.Code = CodeDeadlineExceeded
	case "NodeLost", "Shutdown", "NodeShutdown", "Terminated":
		o.Code = CodeNodeLost
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			switch c.Reason {
			case "DeletionByTaintManager":
				o.Code = CodeNodeLost
			case "TerminationByKubelet":
				o.Code = CodeEvicted
			}
		}
	}
	return o
}

// botStatus is the bot container's status, if the kubelet reported one.
func botStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == ContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// words joins a reason and its message, bounded: they are Kubernetes'
// words for logs, not for decisions.
func words(reason, message string) string {
	s := strings.TrimSpace(strings.TrimSpace(reason) + ": " + strings.TrimSpace(message))
	s = strings.Trim(s, ": ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
