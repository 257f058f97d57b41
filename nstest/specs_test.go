package nstest_test

import (
	"testing"

	"github.com/nsscript/nsscript/nstest"
)

// TestRepoSpecs runs the repository's own specs, testdata/*.txtar at the
// module root; they copy the real scripts in from $SCRIPTS (../scripts).
func TestRepoSpecs(t *testing.T) { nstest.Run(t, "../testdata") }
