package kubernetes

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Every pod state the kubelet and the control plane report maps to a
// phase, and the failures to their stable codes, including those the test
// node does not produce (a lost node, no node fits, a bad container spec).
func TestObserve(t *testing.T) {
	t.Parallel()
	waiting := func(reason string) []corev1.ContainerStatus {
		return []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}
	}
	terminated := func(code int32, reason string) []corev1.ContainerStatus {
		return []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}}
	}
	now := metav1.Now()
	for _, c := range []struct {
		name  string
		pod   corev1.Pod
		phase platform.Phase
		code  string
		exit  *int
	}{
		{"pending", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, platform.PhasePending, "", nil},
		{"scheduled", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			platform.PhaseStarting, "", nil},
		{"unschedulable", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}}},
			platform.PhasePending, CodeUnschedulable, nil},
		{"image pull back-off", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: waiting("ImagePullBackOff")}},
			platform.PhaseExited, CodeImagePullFailed, nil},
		{"bad container spec", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: waiting("CreateContainerConfigError")}},
			platform.PhaseExited, CodeConfigError, nil},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, platform.PhaseRunning, "", nil},
		{"being deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}, platform.PhaseStopping, "", nil},
		{"container ended, pod not yet", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: terminated(2, "Error")}},
			platform.PhaseExited, "", new(2)},
		{"succeeded", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: terminated(0, "Completed")}},
			platform.PhaseExited, "", new(0)},
		{"oom killed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: terminated(137, "OOMKilled")}},
			platform.PhaseExited, CodeOOMKilled, new(137)},
		{"evicted", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, platform.PhaseExited, CodeEvicted, nil},
		{"deadline", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}},
			platform.PhaseExited, CodeDeadlineExceeded, nil},
		{"node lost", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "NodeLost"}}, platform.PhaseExited, CodeNodeLost, nil},
		{"taint manager", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByTaintManager"}}}},
			platform.PhaseExited, CodeNodeLost, nil},
		{"odd phase", corev1.Pod{Status: corev1.PodStatus{Phase: "Weird"}}, platform.PhaseUnknown, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := observe(&c.pod)
			require.Equal(t, c.phase, o.Phase)
			require.Equal(t, c.code, o.Code)
			require.Equal(t, c.exit, o.ExitCode)
		})
	}
}
