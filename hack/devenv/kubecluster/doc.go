// Package kubecluster starts a real Kubernetes control plane for tests:
// etcd and kube-apiserver, built from the versions pinned in
// hack/kubetools (toolbin builds them into bin/ once), on loopback ports
// with RBAC authorization and the default admission plugins. There is no
// kubelet, scheduler or controller manager: package kubenode plays the node.
package kubecluster
