package builtins

import (
	"strings"
	"testing"
)

// observers are the builtins that only look at the lab (probes, lookups):
// they may overlap other probes. Every other builtin changes the lab or
// waits (run, sleep) and must be a barrier.
var observers = map[string]bool{
	"host": true, "link": true, "netns.link": true, "ping": true, "reachability": true,
	"expect_reachable": true, "expect_unreachable": true, "expect_rtt": true,
	"connect": true, "http_get": true, "expect_connect": true, "expect_no_connect": true,
	"expect_http": true, "expect_no_http": true,
	"routes": true, "route_get": true, "addresses": true, "neighbours": true, "fdb": true,
	"expect_route": true, "expect_neighbour": true, "expect": true, "duration": true,
	"traceroute": true, "expect_path": true, "expect_daemon": true,
	"resolve": true, "expect_resolves": true, "expect_ospf_full": true,
}

// TestBarriers: the ordering model (an expectation observes the lab as of
// its line) holds only if every builtin that is not a pure observer waits
// for the probes queued before it. A new builtin must choose.
func TestBarriers(t *testing.T) {
	for _, b := range Table {
		if b.Domain == "values" && !strings.Contains(b.Name, ".") {
			continue // a value type, not a call
		}
		if b.Mutates == observers[b.Name] {
			t.Errorf("%s: Mutates=%v, but it is %s", b.Name, b.Mutates, map[bool]string{true: "an observer", false: "not an observer (a change, run or sleep)"}[observers[b.Name]])
		}
	}
	for _, name := range []string{"run", "sleep", "veth", "route", "firewall", "impair", "serve"} {
		if b := Lookup(name); b == nil || !b.Mutates {
			t.Errorf("%s is not a barrier", name)
		}
	}
}
