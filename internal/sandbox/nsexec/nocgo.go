//go:build !cgo

package nsexec

// Enabled reports whether this binary starts the sandboxed child before Go.
const Enabled = false
