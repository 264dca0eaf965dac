// Package proctail keeps the end of a child server process's output (the
// Postgres of hack/devenv/pgcluster, the S3 server of hack/devenv/s3server) so that a failed
// start can say why, while copying all of it to an optional log.
package proctail
