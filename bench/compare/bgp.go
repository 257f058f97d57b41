package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// bgpTable times the three-router BGP lab (bench/bgp-line.star) against
// the same lab as a shell recipe (bench/bgp-line.sh: ip netns, bird, birdc
// polled every 0.1s, ping), alternating, from process start to exit, both
// done when the routes are learned and h1 reaches h3. Only wall time is
// compared: the recipe's BIRDs daemonise, so their CPU time is not the
// recipe's.
func bgpTable(root, ns string, rounds int) {
	for _, tool := range []string{"ip", "ping", "unshare", "bird", "birdc"} {
		if _, err := exec.LookPath(tool); err != nil {
			fatalf("%s not found (apt-get install iproute2 iputils-ping util-linux bird2)", tool)
		}
	}
	argvs := [][]string{
		{ns, "run", filepath.Join(root, "bench", "bgp-line.star")},
		{"bash", filepath.Join(root, "bench", "bgp-line.sh")},
	}
	runs := make([][]result, len(argvs))
	for range rounds {
		for i, argv := range argvs {
			runs[i] = append(runs[i], run(argv, 3))
		}
	}
	fmt.Printf("Machine: %d CPUs, kernel %s, load average %s at the end; %d rounds, alternating.\n\n",
		runtime.NumCPU(), kernel(), loadavg(), rounds)
	fmt.Println("| BGP lab (3 BIRD routers, 2 hosts) | median s | min-max s | vs nsscript | failed runs |")
	fmt.Println("|---|---:|---:|---:|---:|")
	base := median(runs[0])
	for i, name := range []string{"nsscript run bench/bgp-line.star", "shell recipe bench/bgp-line.sh"} {
		rs := runs[i]
		fmt.Printf("| %s | %.3f | %.3f-%.3f | %s | %d |\n", name, median(rs), minOf(rs), maxOf(rs), ratio(median(rs), base, i), failures(rs))
	}
}
