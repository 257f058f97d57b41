package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// NeighTable is what the kernel says about its IPv4 neighbour (ARP) table.
// The table and its numbers are shared by every namespace of the machine, so
// any namespace can read them (RTM_GETNEIGHTBL); /proc/sys shows gc_thresh3
// only in the real host's namespace.
type NeighTable struct {
	Thresh1, Thresh2, Thresh3 int // gc_thresh1..3
	Entries                   int // entries in the table now, all namespaces
	ForcedGCRuns              uint64
	TableFulls                uint64 // times an entry could not be made: "neighbour table overflow"
}

// Attributes of RTM_NEWNEIGHTBL (linux/neighbour.h).
const (
	ndtaName    = 1
	ndtaThresh1 = 2
	ndtaThresh2 = 3
	ndtaThresh3 = 4
	ndtaConfig  = 5
	ndtaStats   = 7
)

// ReadNeighTable reads the kernel's IPv4 neighbour table parameters and
// statistics through netlink.
func ReadNeighTable() (*NeighTable, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETNEIGHTBL, unix.NLM_F_DUMP)
	req.AddRawData([]byte{unix.AF_INET, 0, 0, 0}) // struct ndtmsg
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNEIGHTBL)
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, fmt.Errorf("read neighbour table: %w", err)
	}
	for _, m := range msgs {
		if len(m) < 4 || m[0] != unix.AF_INET {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[4:])
		if err != nil {
			continue
		}
		var t NeighTable
		name, thresh := "", false
		for _, a := range attrs {
			v := a.Value
			switch a.Attr.Type {
			case ndtaName:
				name = string(trimNul(v))
			case ndtaThresh1, ndtaThresh2, ndtaThresh3:
				if len(v) >= 4 {
					n := int(binary.NativeEndian.Uint32(v))
					switch a.Attr.Type {
					case ndtaThresh1:
						t.Thresh1 = n
					case ndtaThresh2:
						t.Thresh2 = n
					default:
						t.Thresh3, thresh = n, true
					}
				}
			case ndtaConfig: // struct ndt_config: u16 key_len, u16 entry_size, u32 entries, ...
				if len(v) >= 8 {
					t.Entries = int(binary.NativeEndian.Uint32(v[4:]))
				}
			case ndtaStats: // struct ndt_stats: eleven u64 counters
				if len(v) >= 88 {
					t.ForcedGCRuns = binary.NativeEndian.Uint64(v[72:])
					t.TableFulls = binary.NativeEndian.Uint64(v[80:])
				}
			}
		}
		if name == "arp_cache" && thresh {
			return &t, nil
		}
	}
	return nil, errors.New("read neighbour table: the kernel reported no arp_cache table")
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// overflowWatch tells whether the kernel's neighbour table overflowed since
// the lab's first probe. It reads the table at most every overflowEvery, so
// that a thousand failing probes cost one read.
type overflowWatch struct {
	mu      sync.Mutex
	base    *NeighTable // at the first probe
	last    *NeighTable
	lastAt  time.Time
	started bool
}

const overflowEvery = 100 * time.Millisecond

// start records the table's counters before the first probe.
func (w *overflowWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	w.base, _ = ReadNeighTable()
}

// note returns a sentence for a failed probe's detail when the table
// overflowed during the run, or "".
func (w *overflowWatch) note() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.base == nil {
		return ""
	}
	if w.last == nil || time.Since(w.lastAt) > overflowEvery {
		t, err := ReadNeighTable()
		if err != nil {
			return ""
		}
		w.last, w.lastAt = t, time.Now()
	}
	n := w.last.TableFulls - w.base.TableFulls
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("the kernel's neighbour table overflowed %d times during this run: "+
		"it holds %d entries (gc_thresh3) for every namespace on this machine; "+
		"run with --neigh=static, or raise net.ipv4.neigh.default.gc_thresh3 on the host", n, w.last.Thresh3)
}
