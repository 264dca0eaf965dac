// Package proctail keeps the end of a child server process's output (the
// Postgres of pkg/pgcluster, the S3 server of pkg/s3server) so that a failed
// start can say why, while copying all of it to an optional log.
package proctail
