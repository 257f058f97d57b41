package lab

import "sync"

// front holds the one value a front end (the Starlark builtins) made for a
// lab object, so that the object keeps one identity however a script
// reaches it: by the value a builtin returned, through another object's
// attribute, or by name.
type front struct {
	once sync.Once
	v    any
}

func (f *front) get(mk func() any) any {
	f.once.Do(func() { f.v = mk() })
	return f.v
}

// Front returns the front end's value for n, made by mk on first use.
func (n *Netns) Front(mk func() any) any { return n.front.get(mk) }

// Front returns the front end's value for lk, made by mk on first use.
func (lk *Link) Front(mk func() any) any { return lk.front.get(mk) }
