// Command fixedcost measures the fixed cost of a run: `nsscript run` of a
// one-line script, for each nsscript binary given, against its floor,
// `unshare -n -m true` plus one exec of a minimal Go program, in the same
// run, alternating the variants round by round, and prints a Markdown table
// of medians and ratios (nsscript / floor) for BENCHMARKS.md.
//
//	go run ./bench/fixedcost -rounds 40 OLD=./nsscript-old NEW=./nsscript
//
// It needs unshare and, for the sandbox as root, root.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 30, "alternating rounds of every variant")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: fixedcost [-rounds N] NAME=NSSCRIPT...")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "nsscript-fixedcost-")
	check(err)
	defer os.RemoveAll(dir)
	minimal := buildMinimal(dir)
	script := filepath.Join(dir, "one.star")
	check(os.WriteFile(script, []byte("a = 1\n"), 0o644))

	names := []string{"unshare -n -m true", "minimal Go program"}
	cmds := [][]string{{"unshare", "-n", "-m", "true"}, {minimal}}
	for _, arg := range flag.Args() {
		name, bin, ok := strings.Cut(arg, "=")
		if !ok {
			name, bin = arg, arg
		}
		names = append(names, "nsscript run (one line), "+name)
		cmds = append(cmds, []string{bin, "run", script})
	}
	times := make([][]float64, len(cmds))
	for range *rounds {
		for i, c := range cmds {
			times[i] = append(times[i], timeRun(c))
		}
	}
	med := make([]float64, len(cmds))
	for i := range times {
		slices.Sort(times[i])
		med[i] = times[i][len(times[i])/2]
	}
	floor := med[0] + med[1]
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("%d rounds, load average %s\n\n", *rounds, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Println("| variant | median ms | min-max ms | vs floor |")
	fmt.Println("|---|---:|---:|---:|")
	for i, n := range names {
		ratio := ""
		if i >= 2 {
			ratio = fmt.Sprintf("%.2fx", med[i]/floor)
		}
		t := times[i]
		fmt.Printf("| %s | %.1f | %.1f-%.1f | %s |\n", n, med[i], t[0], t[len(t)-1], ratio)
	}
	fmt.Printf("| floor: unshare + minimal Go program | %.1f | | 1x |\n", floor)
}

// buildMinimal builds `func main() {}` and returns the binary's path.
func buildMinimal(dir string) string {
	src := filepath.Join(dir, "minimal")
	check(os.Mkdir(src, 0o755))
	check(os.WriteFile(filepath.Join(src, "go.mod"), []byte("module minimal\n"), 0o644))
	check(os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	bin := filepath.Join(dir, "minimal-bin")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Stderr = src, os.Stderr
	check(build.Run())
	return bin
}

// timeRun runs argv and returns its wall time in milliseconds; it exits
// when the command fails.
func timeRun(argv []string) float64 {
	c := exec.Command(argv[0], argv[1:]...)
	t0 := time.Now()
	out, err := c.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(argv, " "), err, out)
		os.Exit(1)
	}
	return float64(d.Microseconds()) / 1000
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
