// Command nsscript builds network labs from Starlark scripts inside a private
// sandbox and checks who can reach whom. See the README or `nsscript help`.
package main

import (
	"os"

	"github.com/nsscript/nsscript/internal/cli"
	// SIGINT and SIGTERM are caught from the first package inits on.
	_ "github.com/nsscript/nsscript/internal/signals/early"
)

func main() { os.Exit(cli.Main()) }
