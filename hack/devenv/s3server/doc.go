// Package s3server starts and stops a real S3 server process for tests and
// for `make run`: versitygw (github.com/versity/versitygw), serving a local
// directory through its posix backend, so every bucket is a sub-directory of
// Config.Dir and every object a file.
//
// A real server rather than an in-process fake, because what S3 code gets
// wrong is mostly what fakes skip: SigV4 signing, credentials, regions,
// path-style addressing and S3's error codes. versitygw checks all of them,
// is small, Apache-2.0, and builds from the Go module proxy in about a
// minute, with no Docker. Its version is pinned in hack/tools; `make test`
// and `make run` build it into bin/versitygw first, and Binary builds it on
// demand when a test runs without make.
//
// Where it differs from AWS S3: it does not implement bucket lifecycle
// configuration (PutBucketLifecycleConfiguration answers NotImplemented), so
// expiry of objects cannot be tested against it; and with its single root
// account, an unknown access key gets 404 XAdminUserNotFound instead of 403
// InvalidAccessKeyId (a wrong secret does get SignatureDoesNotMatch).
//
// It targets Linux, where the server dies with the program that started it;
// it also builds on other Unix systems.
package s3server
