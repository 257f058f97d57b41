// Command compare times nsscript against the shell and Mininet recipes of
// the same lab, in the same run, alternating A B C A B C ..., and prints
// the medians and ratios as the Markdown tables of BENCHMARKS.md.
//
//	go run ./bench/compare -nsscript ./nsscript
//
// Every variant builds scripts/scale.star's topology (N namespaces on one
// bridge with a gateway), checks 2N probes and tears the lab down; each run
// is timed from process start to exit and must report "2N passed, 0
// failed". The shell and Mininet variants sandbox themselves (unshare), so
// nothing touches the host. It needs root, ip, ping and unshare; Mininet runs
// where /usr/bin/python3 can import it.
//
//	go run ./bench/compare -nsscript ./nsscript -floor mesh:50,scale:200
//
// times nsscript instead against bench/floor, a plain Go program that
// builds the same lab through netlink and sends the same probes with static
// neighbours (wall-clock and CPU time, see floor.go).
//
//	go run ./bench/compare -nsscript ./nsscript -bgp -rounds 10
//
// times the three-router BGP lab (bench/bgp-line.star, BIRD) against the
// same lab as a shell recipe (bench/bgp-line.sh), see bgp.go.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// variant is one way of building and checking the lab.
type variant struct {
	name string
	cmd  func(n int) []string
	max  int // largest N it runs at (0: any)
}

// result is one timed run.
type result struct {
	secs   float64
	cpu    float64 // user+system seconds of the process tree (wait4's rusage)
	rssKB  int64
	failed bool
	out    string
}

func main() {
	var (
		nsscript = flag.String("nsscript", "./nsscript", "the nsscript binary to time")
		sizes    = flag.String("n", "10,50,200", "comma-separated lab sizes for the comparison")
		rounds   = flag.Int("rounds", 5, "runs of every variant at every size (alternating)")
		mnMax    = flag.Int("mininet-max", 50, "largest size Mininet runs at (0: skip Mininet)")
		e2e      = flag.Bool("e2e", true, "also time bridge.star, scale.star at N=1000 and mesh.star at N=50")
		only     = flag.String("only", "", "run only the variants whose name contains this")
		vsFloor  = flag.String("floor", "", "instead, time nsscript against bench/floor: comma-separated SCRIPT:N (mesh:50,scale:200)")
		bgp      = flag.Bool("bgp", false, "instead, time the three-router BGP lab against its shell recipe (bench/bgp-line.*)")
	)
	flag.Parse()
	root := repoRoot()
	ns, err := filepath.Abs(*nsscript)
	if err != nil || !exists(ns) {
		fatalf("no nsscript binary at %s (make build)", *nsscript)
	}
	if *vsFloor != "" {
		floorTable(root, ns, *vsFloor, *rounds)
		return
	}
	if *bgp {
		bgpTable(root, ns, *rounds)
		return
	}
	if os.Geteuid() != 0 {
		fatalf("the shell and Mininet recipes need root")
	}
	scale := filepath.Join(root, "scripts", "scale.star")
	vs := variants(root, ns, scale, *mnMax, *only)
	fmt.Printf("Machine: %d CPUs, kernel %s, load average %s at start.\n\n", runtime.NumCPU(), kernel(), loadavg())
	scaleTable(vs, parseSizes(*sizes), *rounds)
	if *e2e {
		fmt.Println()
		fmt.Println("| workload | runs | median s | min-max s | peak RSS MB | failed runs |")
		fmt.Println("|---|---:|---:|---:|---:|---:|")
		endToEnd("bridge.star (4 probes)", 20, []string{ns, "run", filepath.Join(root, "scripts", "bridge.star")}, 4)
		endToEnd("scale.star N=1000 (2,000 probes)", 3, []string{ns, "run", "--set", "n=1000", scale}, 2000)
		endToEnd("mesh.star N=50 (2,450 probes)", 5, []string{ns, "run", "--set", "n=50", filepath.Join(root, "scripts", "mesh.star")}, 2450)
	}
	fmt.Printf("\nLoad average %s at the end.\n", loadavg())
}

// variants returns nsscript and the recipes it is compared with on
// scale.star (those whose name contains only, with only set), and checks
// that the tools they need are installed.
func variants(root, ns, scale string, mnMax int, only string) []variant {
	vs := []variant{
		{name: "nsscript", cmd: func(n int) []string { return []string{ns, "run", "--set", "n=" + strconv.Itoa(n), scale} }},
		{name: "shell, per command", cmd: func(n int) []string {
			return []string{"bash", filepath.Join(root, "bench", "scale-ip.sh"), strconv.Itoa(n)}
		}},
		{name: "shell, ip -batch + parallel pings", cmd: func(n int) []string {
			return []string{"bash", filepath.Join(root, "bench", "scale-batch.sh"), strconv.Itoa(n)}
		}},
	}
	if mnMax > 0 && mininetAvailable() {
		vs = append(vs, variant{name: "Mininet (lxbr, no controller, static ARP)", max: mnMax,
			cmd: func(n int) []string {
				return []string{"/usr/bin/python3", filepath.Join(root, "bench", "mininet-scale.py"), strconv.Itoa(n)}
			}})
	} else if mnMax > 0 {
		fmt.Fprintln(os.Stderr, "compare: Mininet not found (apt-get install mininet bridge-utils net-tools); skipping it")
	}
	if only != "" {
		vs = slices.DeleteFunc(vs, func(v variant) bool { return !strings.Contains(v.name, only) && v.name != "nsscript" })
	}
	for _, tool := range []string{"ip", "ping", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			fatalf("%s not found (apt-get install iproute2 iputils-ping util-linux)", tool)
		}
	}
	return vs
}

// scaleTable times every variant at every size, rounds times, alternating,
// and prints a row per size and variant.
func scaleTable(vs []variant, sizes []int, rounds int) {
	fmt.Printf("scale.star: N namespaces on a bridge, 2N probes; %d rounds, variants alternating; "+
		"median seconds from process start to exit (min-max); ratio = variant / nsscript.\n\n", rounds)
	fmt.Println("| N | variant | median s | min-max s | vs nsscript | failed runs |")
	fmt.Println("|---:|---|---:|---:|---:|---:|")
	for _, n := range sizes {
		runs := make([][]result, len(vs))
		for r := 0; r < rounds; r++ {
			for i, v := range vs {
				if v.max > 0 && n > v.max {
					continue
				}
				runs[i] = append(runs[i], run(v.cmd(n), 2*n))
			}
		}
		base := median(runs[0])
		for i, v := range vs {
			if len(runs[i]) == 0 {
				continue
			}
			m := median(runs[i])
			fmt.Printf("| %d | %s | %.3f | %.3f-%.3f | %s | %d |\n", n, v.name, m, minOf(runs[i]), maxOf(runs[i]),
				ratio(m, base, i), failures(runs[i]))
		}
	}
}

func endToEnd(name string, times int, argv []string, want int) {
	var rs []result
	for range times {
		rs = append(rs, run(argv, want))
	}
	var rss int64
	for _, r := range rs {
		rss = max(rss, r.rssKB)
	}
	fmt.Printf("| %s | %d | %.3f | %.3f-%.3f | %.1f | %d |\n", name, times, median(rs), minOf(rs), maxOf(rs), float64(rss)/1024, failures(rs))
}

var summaryRE = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// run runs argv once and checks that it reported want passed, 0 failed.
func run(argv []string, want int) result {
	var out bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := result{secs: time.Since(start).Seconds(), out: out.String()}
	if cmd.ProcessState != nil { // nil when the command did not start
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	m := summaryRE.FindStringSubmatch(r.out)
	if err != nil || m == nil || m[1] != strconv.Itoa(want) || m[2] != "0" {
		r.failed = true
		tail := r.out
		if len(tail) > 600 {
			tail = "..." + tail[len(tail)-600:]
		}
		fmt.Fprintf(os.Stderr, "compare: %s: %v; want %d passed, 0 failed; output:\n%s\n", strings.Join(argv, " "), err, want, tail)
	}
	return r
}

func secs(rs []result) []float64 {
	var s []float64
	for _, r := range rs {
		s = append(s, r.secs)
	}
	slices.Sort(s)
	return s
}

func median(rs []result) float64 { return medianOf(secs(rs)) }

func medianOf(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(rs []result) float64 { return secs(rs)[0] }
func maxOf(rs []result) float64 { s := secs(rs); return s[len(s)-1] }

func failures(rs []result) int {
	n := 0
	for _, r := range rs {
		if r.failed {
			n++
		}
	}
	return n
}

func ratio(m, base float64, i int) string {
	if i == 0 {
		return "1"
	}
	return fmt.Sprintf("%.1fx slower", m/base)
}

func parseSizes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad size %q in -n", f)
		}
		out = append(out, n)
	}
	return out
}

func mininetAvailable() bool {
	return exec.Command("/usr/bin/python3", "-c", "import mininet.net").Run() == nil
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// repoRoot is the module root: the directory holding go.mod, upward from here.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) && exists(filepath.Join(d, "scripts", "scale.star")) {
			return d
		}
		if filepath.Dir(d) == d {
			fatalf("run compare inside the nsscript repository")
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(2)
}
