// Package local runs each bot attempt as a child process of the controller:
// the embedded default platform, for development and single-machine setups.
//
// Every process carries its workload name and the platform's instance id in
// its environment, and a state directory holds a record per workload (pid,
// start time, exit code). So a restarted controller adopts the processes its
// predecessor left running and the garbage collector finds every one it owns,
// even one started just before a crash that was never recorded.
package local
