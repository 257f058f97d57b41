package builtins

import (
	"fmt"
	"math"

	"go.starlark.net/starlark"
)

// fnNetns implements netns(name, existing=False, path=None, pid=None).
func fnNetns(r *Run, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name     string
		existing bool
		path     string
		pid      = intIn("pid", 1, math.MaxInt32, 0)
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "existing?", &existing, "path??", &path, "pid??", &pid); err != nil {
		return nil, err
	}
	if pid.n != 0 {
		if path != "" {
			return nil, fmt.Errorf("give path or pid, not both")
		}
		ns, err := r.Lab.OpenNetnsPID(name, pid.n)
		if err != nil {
			return nil, err
		}
		return NetnsValue(ns), nil
	}
	if path != "" && !existing {
		existing = true
	}
	if existing {
		ns, err := r.Lab.OpenNetns(name, path)
		if err != nil {
			return nil, err
		}
		return NetnsValue(ns), nil
	}
	ns, err := r.Lab.NewNetns(name)
	if err != nil {
		return nil, err
	}
	return NetnsValue(ns), nil
}
