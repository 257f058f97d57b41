package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// floorTable times nsscript's run of each SCRIPT:N in spec against
// bench/floor building the same lab and sending the same probes, alternating
// nsscript and floor round by round, and prints wall-clock and CPU (user +
// system of the process tree) medians with the ratios nsscript / floor. CPU
// time moves much less with the machine's load than wall time.
func floorTable(root, ns string, spec string, rounds int) {
	dir, err := os.MkdirTemp("", "nsscript-floor-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	floor := filepath.Join(dir, "floor")
	build := exec.Command("go", "build", "-o", floor, "./bench/floor")
	build.Dir, build.Stderr = root, os.Stderr
	if err := build.Run(); err != nil {
		fatalf("build bench/floor: %v", err)
	}
	fmt.Printf("Machine: %d CPUs, kernel %s, load average %s at start; %d rounds, nsscript and floor alternating.\n\n",
		runtime.NumCPU(), kernel(), loadavg(), rounds)
	fmt.Println("| workload | variant | median s | min-max s | median CPU s | wall vs floor | CPU vs floor | failed runs |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, w := range strings.Split(spec, ",") {
		script, nstr, ok := strings.Cut(strings.TrimSpace(w), ":")
		n, err := strconv.Atoi(nstr)
		if !ok || err != nil || (script != "mesh" && script != "scale") {
			fatalf("bad workload %q in -floor (want mesh:N or scale:N)", w)
		}
		want := 2 * n
		if script == "mesh" {
			want = n * (n - 1)
		}
		argvs := [][]string{
			{ns, "run", "--set", "n=" + nstr, filepath.Join(root, "scripts", script+".star")},
			{floor, "-n", nstr, script},
		}
		runs := make([][]result, 2)
		for range rounds {
			for i, argv := range argvs {
				runs[i] = append(runs[i], run(argv, want))
			}
		}
		wall0, cpu0 := median(runs[1]), medianCPU(runs[1])
		for i, name := range []string{"nsscript", "floor"} {
			rs := runs[i]
			fmt.Printf("| %s.star N=%d | %s | %.3f | %.3f-%.3f | %.3f | %.2fx | %.2fx | %d |\n", script, n, name,
				median(rs), minOf(rs), maxOf(rs), medianCPU(rs), median(rs)/wall0, medianCPU(rs)/cpu0, failures(rs))
		}
	}
	fmt.Printf("\nLoad average %s at the end.\n", loadavg())
}

func medianCPU(rs []result) float64 {
	var s []float64
	for _, r := range rs {
		s = append(s, r.cpu)
	}
	slices.Sort(s)
	return medianOf(s)
}
