// Package recording stores meeting recordings in S3 (any S3 server: AWS,
// MinIO, versitygw) through minio-go.
//
// Bots never hold S3 credentials. A bot asks the controller for a presigned
// PUT URL that can write exactly one key — the one of its own attempt,
// bots/<id>/recordings/<attempt>-<meeting platform>.<ext> — for a bounded time,
// uploads to it, then asks the controller to verify the object (StatObject)
// before it may report DONE. Users download through presigned GET URLs.
//
// Presigning is local computation, so the client is built with an explicit
// region and path-style addressing: minio-go then never asks the server for
// the bucket's location, and the URLs work with servers that have no virtual
// host DNS (MinIO, versitygw, a dev S3 on loopback).
package recording
