// Package early starts catching SIGINT and SIGTERM (signals.Start) in its
// init function, as early in the program's start as a Go package can. Only
// cmd/nsscript imports it, for that side effect; see package signals.
package early

import "github.com/nsscript/nsscript/internal/signals"

func init() { signals.Start() }
