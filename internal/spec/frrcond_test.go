package spec

import (
	"testing"

	"github.com/nsscript/nsscript/internal/lab"
)

// TestFRRConditionRequired: where FRR is missing, [frr] is false (the spec
// skips) unless NSSCRIPT_REQUIRE_NAMESPACES=1, where it is an error (the
// spec fails): CI never skips the FRR specs.
func TestFRRConditionRequired(t *testing.T) {
	saved := lab.FRRDaemonDirs
	lab.FRRDaemonDirs = []string{t.TempDir()}
	t.Cleanup(func() { lab.FRRDaemonDirs = saved })

	t.Setenv(requireEnv, "")
	if ok, err := frrInstalled(); ok || err != nil {
		t.Errorf("without FRR: frrInstalled() = %v, %v; want false, nil", ok, err)
	}
	t.Setenv(requireEnv, "1")
	if ok, err := frrInstalled(); ok || err == nil {
		t.Errorf("without FRR and %s=1: frrInstalled() = %v, %v; want an error", requireEnv, ok, err)
	}
}
