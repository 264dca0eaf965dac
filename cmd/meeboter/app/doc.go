// Package app is the composition root of `meeboter serve`, after
// Kubernetes' cmd/<component>/app: from config.Config it builds the
// database pool, the store and its enqueuer, the platforms, the Coolify
// slot pool, the controllers (with their River client), the API and the
// operator's listener, and runs them. Every setting comes from the
// configuration, whose defaults live in pkg/config; package main keeps only
// the commands and their output.
package app
