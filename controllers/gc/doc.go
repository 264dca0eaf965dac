// Package gc removes orphans: workloads a platform runs under our name that
// no live deployment row owns. It acts only on a complete, successful list
// and only on workloads older than a grace age, so a workload being created
// right now is never collected. It runs on its own period, slower than the
// observers': on a platform that lists ids cheaply and describes by id
// (ECS), the list is of running ids only, and only the ids no deployment
// owns are read.
package gc
