package lang

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.starlark.net/syntax"
	"golang.org/x/sys/unix"
)

// ReadSource reads a script or module. Only regular files are read: a
// named pipe would block the run until something writes to it, a device
// such as /dev/zero never ends, and a directory is no script. The file is
// opened without blocking and checked on the open descriptor, so a file
// swapped for a pipe after a check cannot hang the read either.
func ReadSource(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPath(err)
	}
	if err := regular(path, st.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, unwrapPath(err)
	}
	return b, nil
}

// CheckSource reports, without opening it, whether path names a file
// ReadSource would read: it exists and is a regular file (after symbolic
// links).
func CheckSource(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return unwrapPath(err)
	}
	return regular(path, st.Mode())
}

// ErrNotRegular is the error for a script or module that is not a regular
// file.
var ErrNotRegular = errors.New("not a regular file")

// regular returns nil for a regular file's mode, else an error that says
// what the file is.
func regular(path string, m fs.FileMode) error {
	var what string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "a special file"
	}
	return fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, what)
}

// Parse parses a script with the language features nsscript run allows
// (while loops, top-level if and for, set, reassigned globals).
func Parse(filename string, src []byte) (*syntax.File, error) {
	return fileOptions.Parse(filename, src, 0)
}
