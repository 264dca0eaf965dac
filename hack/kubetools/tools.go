//go:build tools

// Package kubetools pins the Kubernetes control plane that the Kubernetes
// platform's tests run against: kube-apiserver from k8s.io/kubernetes, and
// etcd (./etcd) at the version kube-apiserver is built with. It is a module
// of its own so that the product's go.mod never sees k8s.io/kubernetes.
// No kube-controller-manager: the platform runs bare pods, which need no
// Job controller, and the tests' node agent plays the kubelet.
package kubetools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
