package exercise

import (
	"errors"
	"fmt"

	"github.com/nsscript/nsscript/internal/lab"
)

// GradeLive grades the live state of lab l, a paused lab that a student
// built or repaired by hand (ip in nsscript shell), with the exercise's
// checks. What was changed by hand is read into the lab first (lab.Sync);
// the namespaces and links the checks build to test behaviour (a network
// beyond the gateway, a server's bridge) are deleted afterwards, so the
// student can go on and be graded again. Nothing else may use the lab
// meanwhile.
func GradeLive(l *lab.Lab, ex *Exercise, o Options) (*Result, error) {
	if err := l.Sync(); err != nil {
		return nil, fmt.Errorf("read the lab's state: %w", err)
	}
	nss, links := map[*lab.Netns]bool{}, map[*lab.Link]bool{}
	for _, n := range l.Namespaces() {
		nss[n] = true
		for _, lk := range n.Links() {
			links[lk] = true
		}
	}
	res := &Result{}
	err := runChecks(l, ex, o, res)
	if cerr := removeAdded(l, nss, links); cerr != nil {
		err = errors.Join(err, fmt.Errorf("remove what the checks built: %w", cerr))
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// removeAdded deletes the namespaces and links of l that are not in nss
// and links (a namespace's links go with it).
func removeAdded(l *lab.Lab, nss map[*lab.Netns]bool, links map[*lab.Link]bool) error {
	var errs []error
	for _, n := range l.Namespaces() {
		if !nss[n] {
			errs = append(errs, n.Delete())
		}
	}
	for _, n := range l.Namespaces() {
		for _, lk := range n.Links() {
			if !links[lk] && lk.CheckLive() == nil {
				errs = append(errs, lk.Delete())
			}
		}
	}
	return errors.Join(errs...)
}
