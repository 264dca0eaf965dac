package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/meeboter/meeboter/pkg/platform"
)

// podFor is the pod of workload w.
func (p *Platform) podFor(w platform.Workload) (*corev1.Pod, error) {
	image, ok := p.cfg.Images[w.MeetingPlatform]
	if !ok {
		return nil, platform.Permanent(fmt.Errorf("kubernetes: no bot image for meeting platform %q", w.MeetingPlatform))
	}
	resources, ok := p.cfg.Resources[w.MeetingPlatform]
	if !ok {
		resources = p.cfg.DefaultResources
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: p.cfg.Namespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         new(int64(p.cfg.MaxLifetime.Seconds())),
			TerminationGracePeriodSeconds: new(int64(p.cfg.StopGrace.Seconds())),
			ServiceAccountName:            p.cfg.ServiceAccount,
			NodeSelector:                  p.cfg.NodeSelector,
			Tolerations:                   p.cfg.Tolerations,
			Containers:                    []corev1.Container{{Name: ContainerName, Image: image, Resources: resources}},
		},
	}
	pod, err := patchPod(pod, p.cfg.PodPatch)
	if err != nil {
		return nil, err
	}
	p.own(pod, w)
	return pod, nil
}

// own sets what the pod patch may not change: identity, labels, restart
// policy, and a bot container whose environment is exactly the workload's,
// with no service-account token or service links beside it.
func (p *Platform) own(pod *corev1.Pod, w platform.Workload) {
	pod.Name, pod.Namespace, pod.GenerateName = w.Name, p.cfg.Namespace, ""
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	maps.Copy(pod.Labels, map[string]string{LabelManagedBy: ManagedBy, LabelOwner: p.cfg.Owner, LabelBot: w.BotID,
		LabelAttempt: strconv.Itoa(w.Attempt), LabelMeetingPlatform: w.MeetingPlatform})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.AutomountServiceAccountToken = new(false)
	pod.Spec.EnableServiceLinks = new(false)
	env := make([]corev1.EnvVar, 0, len(w.Env))
	for _, k := range slices.Sorted(maps.Keys(w.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: w.Env[k]})
	}
	for i := range pod.Spec.Containers {
		if c := &pod.Spec.Containers[i]; c.Name == ContainerName {
			c.Env, c.EnvFrom = env, nil
		}
	}
}

// patchPod applies a strategic merge patch to pod.
func patchPod(pod *corev1.Pod, patch []byte) (*corev1.Pod, error) {
	if len(patch) == 0 {
		return pod, nil
	}
	orig, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, patch, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: pod patch: %w", err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, fmt.Errorf("kubernetes: pod patch: %w", err)
	}
	return out, nil
}
