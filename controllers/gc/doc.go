// Package gc removes orphans: workloads a platform runs under our name that
// no live deployment row owns. It acts only on a complete, successful list
// and only on workloads older than a grace age, so a workload being created
// right now is never collected.
package gc
