package myproject_test

import (
	"testing"

	"github.com/nsscript/nsscript/nstest"
)

// TestSpecs runs every spec in testdata/, each one in its own sandbox.
func TestSpecs(t *testing.T) { nstest.Run(t, "testdata") }
