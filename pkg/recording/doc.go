// Package recording stores meeting recordings in S3 (any S3 server: AWS,
// MinIO, versitygw) through minio-go.
//
// Bots never hold S3 credentials. A bot asks the controller for a presigned
// PUT URL that can write exactly one key — the one of its own attempt,
// bots/<id>/uploads/<attempt>-<meeting platform>.<ext> — for a short time,
// uploads to it, then asks the controller to verify it before it may report
// DONE. Verifying seals it (Seal): a server-side copy to
// bots/<id>/recordings/<nonce>/<attempt>-<meeting platform>.<ext>, a key no
// URL can write, after which the upload is deleted. Users download the
// sealed copy through presigned GET URLs, so a bot that keeps its upload URL
// cannot change what they get.
//
// Presigning is local computation, so the client is built with an explicit
// region and path-style addressing: minio-go then never asks the server for
// the bucket's location, and the URLs work with servers that have no virtual
// host DNS (MinIO, versitygw, a dev S3 on loopback).
package recording
