package spawn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// markEnv is set only in what a test hands over, never in the environment a
// child starts with.
const markEnv = "SPAWN_TEST_MARK"

// TestMain plays the child when EnvVar is 1: it receives the handover and
// reports what it got on standard output.
func TestMain(m *testing.M) {
	if os.Getenv(EnvVar) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	if err := Receive(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	extra, _ := io.ReadAll(os.NewFile(3, "extra"))
	fd, _ := strconv.Atoi(os.Getenv(LifelineEnv))
	var st syscall.Stat_t
	socket := syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFSOCK
	var open []int
	for slot := 4; slot <= 3+MaxExtraFiles; slot++ {
		if syscall.Fstat(slot, &st) == nil {
			open = append(open, slot)
		}
	}
	fmt.Printf("mark=%s extra=%s lifeline-above-slots=%v socket=%v open=%v\n", os.Getenv(markEnv), extra, fd > 3+MaxExtraFiles, socket, open)
	return 0
}

// start starts a child of this test binary, or skips where namespaces
// cannot be made (fails when NSSCRIPT_REQUIRE_NAMESPACES=1).
func start(t *testing.T) *Child {
	t.Helper()
	c := Start([]string{"spawn.test"}, os.Environ())
	if err := c.Started(); err != nil {
		if os.Getenv("NSSCRIPT_REQUIRE_NAMESPACES") == "1" {
			t.Fatalf("start a sandboxed child: %v", err)
		}
		t.Skipf("cannot start a sandboxed child here: %v", err)
	}
	return c
}

func TestHandover(t *testing.T) {
	c := start(t)
	extra, err := os.CreateTemp(t.TempDir(), "extra")
	if err != nil {
		t.Fatal(err)
	}
	extra.WriteString("from-the-parent")
	extra.Seek(0, io.SeekStart)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	env := append(os.Environ(), markEnv+"=handed")
	if err := c.Hand(Handover{Env: env, Files: []*os.File{null, w, w, extra}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out, _ := io.ReadAll(r)
	state, err := c.Wait()
	if err != nil || state.ExitCode() != 0 {
		t.Fatalf("child: %v, %v; output %q", state, err, out)
	}
	got := strings.TrimSpace(string(out))
	want := "mark=handed extra=from-the-parent lifeline-above-slots=true socket=true open=[]"
	if got != want {
		t.Errorf("child got\n  %s\nwant\n  %s", got, want)
	}
	if err := c.Hand(Handover{Env: env, Files: []*os.File{null, null, null}}); !errors.Is(err, errHanded) {
		t.Errorf("second Hand = %v, want %v", err, errHanded)
	}
}

func TestHandoverRefusesTooManyFiles(t *testing.T) {
	c := start(t)
	defer c.Discard()
	files := make([]*os.File, 4+MaxExtraFiles)
	for i := range files {
		files[i] = os.Stdin
	}
	if err := c.Hand(Handover{Files: files}); err == nil || !strings.Contains(err.Error(), "descriptors") {
		t.Errorf("Hand with %d files = %v, want an error about descriptors", len(files), err)
	}
}

// A child that is not handed over (the command did not take it) ends when
// discarded, without output.
func TestDiscard(t *testing.T) {
	c := Start([]string{"spawn.test"}, os.Environ())
	if c.Started() != nil {
		t.Skip("cannot start a sandboxed child here")
	}
	c.Discard()
	select {
	case <-c.Done():
	default:
		t.Fatal("Discard returned before the child ended")
	}
	state, _ := c.Wait()
	if state.Success() {
		t.Errorf("discarded child exited 0")
	}
}

// Without a handover the child exits when the lifeline ends (its parent
// is gone or closed it).
func TestLifelineEndBeforeHandover(t *testing.T) {
	c := start(t)
	c.Lifeline().Close()
	state, _ := c.Wait()
	if state.ExitCode() != 2 {
		t.Errorf("child ended %v, want exit status 2", state)
	}
}

// Receive does nothing where EnvVar was set by hand: no lifeline.
func TestReceiveWithoutLifeline(t *testing.T) {
	t.Setenv(EnvVar, "1")
	t.Setenv(LifelineEnv, "")
	if err := receive(); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(EnvVar) != "1" {
		t.Error("receive changed the environment")
	}
}
