// Package observer reads the actual state of every live workload of a
// platform in one list call and writes it onto the deployments rows (the
// informer pattern): reconcilers decide from rows and call the platform only
// to act. A failed list writes nothing.
package observer
