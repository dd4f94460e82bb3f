//go:build tools

// Package tools pins the etcd server module so `go build` can build its main package.
package tools

import _ "go.etcd.io/etcd/server/v3"
