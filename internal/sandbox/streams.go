package sandbox

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// streams are the child's standard input, output and error, as os/exec
// makes them: a file is handed over as it is; any other reader or writer
// through a pipe that a goroutine copies, which the child's end of is closed
// in this process once handed over.
type streams struct {
	files  []*os.File // descriptors 0, 1 and 2 of the child
	theirs []*os.File // pipe ends handed to the child
	copies sync.WaitGroup
}

// openStreams returns opts' standard streams, the process's own where
// unset.
func openStreams(opts Options) (*streams, error) {
	s := &streams{}
	in, err := s.stream(opts.Stdin, os.Stdin, true)
	if err != nil {
		return nil, err
	}
	out, err := s.stream(opts.Stdout, os.Stdout, false)
	if err != nil {
		s.started()
		return nil, err
	}
	errOut := out
	if !sameWriter(opts.Stderr, opts.Stdout) {
		if errOut, err = s.stream(opts.Stderr, os.Stderr, false); err != nil {
			s.started()
			return nil, err
		}
	}
	s.files = []*os.File{in, out, errOut}
	return s, nil
}

// stream returns the descriptor the child gets for one standard stream:
// std when v is nil, v itself when it is a file, and otherwise one end of a
// pipe that a goroutine copies v into (the child reads) or out to (the
// child writes). A child that stops reading ends the copy into it with
// EPIPE once it is gone; what it read is all it gets.
func (s *streams) stream(v any, std *os.File, childReads bool) (*os.File, error) {
	if v == nil {
		return std, nil
	}
	if f, ok := v.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	theirs, ours, copy := pw, pr, func() { io.Copy(v.(io.Writer), pr) }
	if childReads {
		theirs, ours, copy = pr, pw, func() { io.Copy(pw, v.(io.Reader)) }
	}
	s.theirs = append(s.theirs, theirs)
	s.copies.Go(func() {
		copy()
		ours.Close()
	})
	return theirs, nil
}

// started closes this process's copies of the pipe ends the child has now,
// so that the copies see end of file when the child (and everything in its
// sandbox) is gone.
func (s *streams) started() {
	for _, f := range s.theirs {
		f.Close()
	}
	s.theirs = nil
}

// wait waits until the copies are done: call it once the child ended.
func (s *streams) wait() { s.copies.Wait() }

// sameWriter reports whether a and b are the same writer, as os/exec
// decides that standard output and error share a pipe; writers that cannot
// be compared are different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}
