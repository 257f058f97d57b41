package lab

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// UDPBound reports which of ports the process pid has no UDP socket bound
// to (IPv4 or IPv6), reading its descriptors and its namespace's socket
// tables in /proc: a server is ready to serve a port once it has bound it,
// since datagrams that arrive before it reads are queued for it. (dnsmasq
// binds its DNS and DHCP sockets before it drops into its main loop.)
func UDPBound(pid int, ports ...int) (missing []int, err error) {
	mine, err := socketInodes(pid)
	if err != nil {
		return nil, err
	}
	bound := map[int]bool{}
	for _, table := range []string{"udp", "udp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			if table == "udp6" && os.IsNotExist(err) {
				continue // IPv6 off in the kernel
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || !mine[fl[9]] {
				continue
			}
			_, hexPort, ok := strings.Cut(fl[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil {
				bound[int(p)] = true
			}
		}
		f.Close()
	}
	for _, p := range ports {
		if !bound[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// socketInodes returns the inodes of the sockets pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, e := range ents {
		t, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(t, "socket:["); ok {
			m[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return m, nil
}
