// Package nstest runs nsscript specs under go test: txtar scenarios in which
// `exec nsscript run lab.star` builds a lab in its own sandbox and asserts
// who can reach whom. One call runs a directory of them:
//
//	func TestSpecs(t *testing.T) { nstest.Run(t, "testdata") }
//
// No TestMain is needed. Run puts the test binary itself on the specs' PATH
// under the name nsscript; when the binary is started under that name, this
// package's init runs the nsscript command line instead of the tests (the
// trick of testscript.Main, done at import time). Because each nsscript run
// sandboxes itself, specs that use the same namespace names and addresses run
// in parallel without interfering.
//
// Specs see $SCRIPTS, the scripts directory beside the spec directory (for
// testdata/, ../scripts), and the conditions [root], [userns], [tun],
// [linktype:NAME], [qdisc:NAME] and [sysctl:KEY] besides testscript's own ([exec:NAME],
// ...). Setting NSSCRIPT_UPDATE=1 rewrites the golden files that `cmp`
// compares against. Setting NSSCRIPT_SHARD=K/N runs only the K-th of N
// disjoint parts of the specs (as nsscript test --shard K/N does), for a CI
// matrix of N machines. `nsscript test DIR` runs the same specs without Go.
package nstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nsscript/nsscript/internal/cli"
	"github.com/nsscript/nsscript/internal/spec"
	"github.com/nsscript/nsscript/internal/testenv"
)

func init() {
	// A spec ran "exec nsscript ..." (or the sandbox re-executed it): this
	// test binary is nsscript now. Importing cli above guarantees that every
	// subcommand has registered itself before Main runs.
	if filepath.Base(os.Args[0]) == "nsscript" && os.Getenv(spec.MarkerEnv) == "1" {
		os.Exit(cli.Main())
	}
}

// Run runs every *.txtar (and *.txt) file in dir as a parallel subtest of t,
// with nsscript on PATH. It skips t where this machine cannot create network
// namespaces (not root and no unprivileged user namespaces), or fails it when
// NSSCRIPT_REQUIRE_NAMESPACES=1, as CI sets.
func Run(t *testing.T, dir string) {
	t.Helper()
	testenv.NeedNamespaces(t)
	o := spec.Options{Dir: dir}
	if env := os.Getenv(spec.ShardEnv); env != "" {
		files, err := shardFiles(dir, env)
		if err != nil {
			t.Fatalf("nstest: %v", err)
		}
		if len(files) == 0 {
			t.Skipf("nstest: shard %s of %s holds no spec", env, dir)
		}
		o = spec.Options{Files: files}
	}
	p, cleanup, err := spec.Params(o)
	if err != nil {
		t.Fatalf("nstest: %v", err)
	}
	t.Cleanup(cleanup)
	testscript.Run(t, p)
}

// shardFiles returns the spec files of dir in shard s ("K/N").
func shardFiles(dir, s string) ([]string, error) {
	shard, err := spec.ParseShard(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.ShardEnv, err)
	}
	groups, err := spec.Groups([]string{dir}, nil)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, g := range shard.Groups(groups) {
		files = append(files, g.Files...)
	}
	return files, nil
}
