//go:build cgo

package nsexec

/*
#include "decide.h"
#include "setup.h"
#include "start.h"
*/
import "C"

import (
	"os"
	"strconv"
	"unsafe"

	"github.com/nsscript/nsscript/internal/sandbox/spawn"
)

// In the child the constructor made, Go's environment is still the
// parent's: mark it as spawn.Start marks the environment of its children,
// for spawn.Receive to take the handover from the lifeline. Tell spawn
// (and nsscript version) that runs start this way.
func init() {
	spawn.BeforeGo = true
	if child() {
		os.Setenv(spawn.EnvVar, "1")
		os.Setenv(spawn.LifelineEnv, strconv.Itoa(spawn.LifelineFD))
	}
}

// child reports whether this process is a child the constructor started.
func child() bool { return C.nsexec_child != 0 }

// decide is the constructor's decision for the command line args.
func decide(args []string) bool {
	argv := make([]*C.char, len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	return C.nsexec_decide(C.int(len(args)), &argv[0]) != 0
}

// flags returns the constructor's table of the flags a run may have for
// it to take the run, each with whether it takes a value.
func flags() map[string]bool {
	m := map[string]bool{}
	for i := 0; ; i++ {
		f := C.nsexec_flag_at(C.int(i))
		if f.name == nil {
			return m
		}
		m[C.GoString(f.name)] = f.takes != 0
	}
}

// constants returns the constructor's copies of spawn's constants.
func constants() (env, lifelineEnv string, lifelineFD, extraFiles int) {
	return C.NSEXEC_ENV, C.NSEXEC_LIFELINE_ENV, C.NSEXEC_LIFELINE_FD, C.NSEXEC_EXTRA_FILES
}
