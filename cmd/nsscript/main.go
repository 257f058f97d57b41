// Command nsscript builds network labs from Starlark scripts inside a private
// sandbox and checks who can reach whom. See the README or `nsscript help`.
package main

import (
	"os"

	"github.com/nsscript/nsscript/internal/cli"
	// The sandboxed child of nsscript run starts while the other packages
	// initialise (it goes on when the command hands it over).
	_ "github.com/nsscript/nsscript/internal/sandbox/early"
	// SIGINT and SIGTERM are caught from the first package inits on.
	_ "github.com/nsscript/nsscript/internal/signals/early"
)

func main() { os.Exit(cli.Main()) }
