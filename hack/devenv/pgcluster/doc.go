// Package pgcluster starts and stops throwaway PostgreSQL clusters from the
// server binaries installed on the machine (initdb, postgres), with no Docker
// and no system service involved.
//
// It owns the whole life cycle of such a cluster: locating the binaries,
// preparing a data directory the server user can use (initdb and postgres
// refuse to run as root, so under root they run as the "postgres" account),
// initdb, starting the server on a loopback port with durability switched off
// for speed, waiting until it accepts connections, and shutting it down again.
//
// Tests reach it through package pgtest; the dev runner uses it with Keep set
// so the data under .dev/ survives restarts. It targets Linux (it also builds
// on other Unix systems).
//
// Durability is switched off (fsync, synchronous_commit), so it is unfit for
// real data: a killed server may lose its last fraction of a second of
// commits, and a machine crash may corrupt the cluster.
package pgcluster
