// Package kubenode is a test node for a real kube-apiserver that has no
// kubelet, scheduler or controller manager (package kubecluster). Through
// the API, like the real ones, it binds a namespace's pods to itself,
// moves their status through Pending, Running and Succeeded or Failed, and
// runs each pod's bot container as a simcontainer.Workload (a simulated
// bot in-process, or a process) with exactly the container's environment.
// Knobs fake what a real node does to pods: start latency, image pulls
// that fail (ErrImagePull), the OOM killer (OOMKilled, exit 137), the
// active deadline (DeadlineExceeded), eviction (Evicted) and a lost node
// that confirms no deletion. A deleted pod's container gets SIGTERM and
// its grace period, then the node confirms the deletion.
package kubenode
