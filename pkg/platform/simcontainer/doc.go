// Package simcontainer is what the platform simulators (coolifysim, ecssim)
// share about the containers they run: the Workload a started container
// runs, the stop grace it gets, and ProcessWorkload, which runs a workload
// as an OS process (e.g. `meeboter-bot --simulate`) with exactly the
// container's environment; and Events, the time-ordered schedule that lets a
// test move a fake clock instead of sleeping.
package simcontainer
