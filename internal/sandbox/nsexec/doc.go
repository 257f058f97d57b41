// Package nsexec starts the sandboxed child of `nsscript run` before the Go
// runtime starts, when the binary is built with cgo, so that a run starts Go
// once instead of twice.
//
// Go cannot create a user namespace in a process that already runs Go:
// the runtime has threads before any package initialises, and the kernel
// makes a user namespace only for a process with one thread. Without cgo,
// a sandboxed run therefore starts Go twice: the command forks and executes
// itself into the new namespaces (package spawn, from the first package
// inits). With cgo, a C constructor (start.h) runs before the runtime, in a
// process with one thread. For a command line that needs nothing of the
// command in the parent (the same decision as spawn.Early and spawn.Alone,
// in decide.h), it clones the child with its namespaces; the child returns
// from the constructor and starts Go as the sandbox, and the parent, which
// never starts Go, writes the child's id maps, hands it its environment and
// standard files and supervises it, as spawn's Start, Hand and Supervise
// do. The child takes the same path in Go as one that spawn started:
// Receive, Setup and the run. When a step before the handover fails, the
// constructor undoes what it did and the program goes on in Go, which
// starts the child its own way and reports the error as it always does.
//
// A binary built without cgo (CGO_ENABLED=0, or no C compiler) has no
// constructor (this package is then this file alone): spawn does the whole
// start, and spawn.BeforeGo stays false.
//
// Only internal/sandbox/early imports this package (cmd/nsscript, and the
// tests that run their own binary as nsscript, import that one), so that
// the constructor is in the nsscript binary and nowhere else.
package nsexec
