// Package devenv holds the test and development infrastructure: the servers
// the tests and `make run` start (a throwaway Postgres cluster from the
// system binaries, test databases, a real S3 server process), the kept end
// of their output, the child processes they run (childproc), the fake clock, a real Kubernetes control plane
// (kubecluster) and a node that plays its kubelet (kubenode), the tools
// they build (toolbin), and Coolify's OpenAPI deviations (coolifyspec). None of it ships in the product:
// only tests, `make run` (hack/devrun), `make bench` and `make chaos`
// import it.
package devenv
