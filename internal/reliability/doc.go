// Package reliability holds nsscript's end-to-end reliability tests: they
// build the CLI once, run it many times, kill it at random moments, and
// compare the real host's network state (links, routes, /run/netns,
// nftables, the sysctls a lab can touch, mounts) before and after. Nothing
// may differ. See docs/reliability.md.
//
// The package has no code of its own; `go test ./internal/reliability` runs
// the short version (CI), `make reliability` the long one
// (NSSCRIPT_RELIABILITY_RUNS=100).
package reliability
