// Package observer reads the actual state of the live workloads of a
// platform and writes it onto the deployments rows (the informer pattern):
// reconcilers decide from rows and call the platform only to act. A failed
// read writes nothing.
//
// A platform that can only list (local, Coolify) is listed whole every
// pass. A platform.Describer (ECS) is read in proportion to what is
// unknown, not to the fleet: a pass reads by external id only the
// workloads not yet seen running, stopping, whose bots went silent, or not
// read for a while (NeedsRead); a bot beating on time vouches for its
// workload at no platform call. Garbage collection still lists the
// platform whole, on its own slower period.
package observer
