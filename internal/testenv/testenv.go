// Package testenv holds helpers shared by nsscript's tests.
package testenv

import (
	"os"
	"testing"

	"github.com/nsscript/nsscript/internal/sandbox"
)

// RequireEnv names the environment variable that turns "cannot create
// namespaces here, skipping" into a test failure (CI sets it).
const RequireEnv = "NSSCRIPT_REQUIRE_NAMESPACES"

// NeedNamespaces skips the test when this machine cannot create network
// namespaces (not root and no unprivileged user namespaces), or fails it
// when RequireEnv is set to 1.
func NeedNamespaces(t testing.TB) {
	t.Helper()
	if err := sandbox.Check(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("cannot create namespaces and %s=1: %v", RequireEnv, err)
		}
		t.Skipf("cannot create namespaces: %v", err)
	}
}

// NeedRoot skips the test unless it runs as root (failing it instead when
// RequireEnv is set and the test says root is required there too).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}
