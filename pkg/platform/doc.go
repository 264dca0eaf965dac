// Package platform defines what the controller needs of a deployment platform
// (Coolify, AWS ECS, local processes): create a workload for one bot attempt,
// look it up by its deterministic name, stop it, and list every workload the
// platform owns, each with a common Observation.
package platform
