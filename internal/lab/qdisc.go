package lab

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsscript/nsscript/internal/hostjournal"
)

// Impairment is what a link's egress queue does to the packets it sends:
// netem adds delay, jitter and loss; tbf limits the rate. Zero fields are
// off. When both are asked for, netem is the root qdisc and tbf its child,
// as the netem documentation does it.
type Impairment struct {
	Delay  time.Duration // added to every packet
	Jitter time.Duration // random variation of Delay (needs Delay)
	Loss   float64       // percent of packets dropped, 0 to 100
	// Rate is the rate limit in bits per second.
	Rate uint64
	// Burst is the token bucket size in bytes (derived from Rate when 0:
	// 10 ms at Rate, at least two full-size frames).
	Burst uint32
	// Latency bounds how long a packet may wait in the tbf queue (200 ms
	// when 0); it sets the queue's size. Much shorter queues make TCP lose
	// whole windows in slow start and fall far below the rate.
	Latency time.Duration
	// Limit is netem's queue length in packets (1000 when 0).
	Limit uint32
	// Shaper is the qdisc that limits the rate: "tbf" (when "") or "htb"
	// (one class with rate and ceil at Rate, as Mininet sets links up).
	Shaper string
}

func (im Impairment) netem() bool { return im.Delay > 0 || im.Jitter > 0 || im.Loss > 0 }

// check reports an impairment that the kernel would refuse or that means
// nothing.
func (im Impairment) check() error {
	switch {
	case !im.netem() && im.Rate == 0:
		return errors.New("nothing to do: give delay, jitter, loss or rate")
	case im.Jitter > 0 && im.Delay == 0:
		return errors.New("jitter needs a delay")
	case im.Loss < 0 || im.Loss > 100:
		return fmt.Errorf("invalid loss %g%% (want 0 to 100)", im.Loss)
	case im.Delay < 0 || im.Jitter < 0 || im.Latency < 0:
		return errors.New("negative duration")
	case im.Delay > time.Hour || im.Jitter > time.Hour:
		return errors.New("delay and jitter must be under an hour")
	case im.Rate == 0 && (im.Burst != 0 || im.Latency != 0):
		return errors.New("burst and latency need a rate")
	case im.Rate != 0 && im.Rate < 8000:
		return fmt.Errorf("rate %d bit/s is too low (want at least 8kbit)", im.Rate)
	case im.Shaper != "" && im.Shaper != "tbf" && im.Shaper != "htb":
		return fmt.Errorf("unknown qdisc %q for the rate (want tbf or htb)", im.Shaper)
	case im.Shaper != "" && im.Rate == 0:
		return fmt.Errorf("qdisc %s needs a rate", im.Shaper)
	case im.Shaper == "htb" && im.Latency != 0:
		return errors.New("latency sizes tbf's queue; htb has none")
	}
	return nil
}

// burst returns the token bucket size in bytes.
func (im Impairment) burst() uint32 {
	if im.Burst > 0 {
		return im.Burst
	}
	b := im.Rate / 8 / 100 // 10 ms worth
	return uint32(max(b, 2*1514))
}

// Impair replaces the link's egress qdisc with im (only the sending side of
// the link is impaired: impair both ends of a veth for both directions). A
// kernel without the netem or tbf qdisc refuses with "qdisc netem is not
// supported by this kernel".
func (lk *Link) Impair(im Impairment) error {
	n := lk.ns
	if err := im.check(); err != nil {
		return err
	}
	var cmds []string
	tc := inNS(n, "tc qdisc replace dev "+shellQuote(lk.name))
	var netem *netlink.Netem
	var qs []netlink.Qdisc
	if im.netem() {
		ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) + "ms" }
		args := []string{"root handle 1: netem"}
		if im.Delay > 0 {
			args = append(args, "delay", ms(im.Delay))
			if im.Jitter > 0 {
				args = append(args, ms(im.Jitter))
			}
		}
		if im.Loss > 0 {
			args = append(args, "loss", strconv.FormatFloat(im.Loss, 'f', -1, 64)+"%")
		}
		if im.Limit > 0 {
			args = append(args, "limit", fmt.Sprint(im.Limit))
		}
		cmds = append(cmds, tc+" "+strings.Join(args, " "))
		netem = netlink.NewNetem(netlink.QdiscAttrs{Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)},
			netlink.NetemQdiscAttrs{
				Latency: uint32(im.Delay / time.Microsecond),
				Jitter:  uint32(im.Jitter / time.Microsecond),
				Loss:    float32(im.Loss),
				Limit:   im.Limit,
			})
		qs = append(qs, netem)
	}
	var classes []netlink.Class
	if im.Rate > 0 {
		parent, handle, where := uint32(netlink.HANDLE_ROOT), netlink.MakeHandle(1, 0), "root handle 1:"
		if netem != nil {
			parent, handle, where = netlink.MakeHandle(1, 1), netlink.MakeHandle(0x10, 0), "parent 1:1 handle 10:" // tc reads handles in hex
			tc = inNS(n, "tc qdisc add dev "+shellQuote(lk.name))
		}
		q, c, cc := im.shaper(parent, handle)
		qs, classes = append(qs, q), c
		cmds = append(cmds, tc+" "+where+" "+cc[0])
		for _, x := range cc[1:] {
			cmds = append(cmds, inNS(n, "tc class add dev "+shellQuote(lk.name)+" "+x))
		}
	}
	err := n.lab.apply(Step{NS: n.Name, Op: "qdisc", Desc: fmt.Sprintf("impair %s in %s: %s", lk.name, n.Name, im), Cmds: cmds}, func() error {
		idx, err := lk.Index()
		if err != nil {
			return err
		}
		return n.lab.hostQdisc(lk, idx, func() error {
			if err := lk.deleteRoot(idx); err != nil {
				return err
			}
			for _, q := range qs {
				q.Attrs().LinkIndex = idx
				if err := n.h.QdiscAdd(q); err != nil {
					return qdiscError(q.Type(), err)
				}
			}
			for _, c := range classes {
				c.Attrs().LinkIndex = idx
				if err := n.h.ClassAdd(c); err != nil {
					return fmt.Errorf("add %s class: %w", c.Type(), err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%s in netns %q: %w", lk.name, n.Name, err)
	}
	return nil
}

// shaper returns the qdisc that limits the rate (tbf, or htb with its one
// class), at parent with handle, and its tc words: the qdisc's after
// "tc qdisc ... HANDLE", then each class's after "tc class add dev X".
func (im Impairment) shaper(parent, handle uint32) (netlink.Qdisc, []netlink.Class, []string) {
	burst := im.burst()
	bytesPerSec := im.Rate / 8
	if im.Shaper == "htb" {
		major := handle >> 16
		q := netlink.NewHtb(netlink.QdiscAttrs{Parent: parent, Handle: handle})
		q.Defcls = 1
		c := netlink.NewHtbClass(netlink.ClassAttrs{Parent: handle, Handle: netlink.MakeHandle(uint16(major), 1)},
			netlink.HtbClassAttrs{Rate: im.Rate, Ceil: im.Rate, Buffer: burst, Cbuffer: burst})
		return q, []netlink.Class{c}, []string{"htb default 1",
			fmt.Sprintf("parent %x: classid %x:1 htb rate %dbit ceil %dbit burst %d cburst %d", major, major, im.Rate, im.Rate, burst, burst)}
	}
	latency := im.Latency
	if latency == 0 {
		latency = 200 * time.Millisecond
	}
	limit := uint32(min(uint64(burst)+bytesPerSec*uint64(latency)/uint64(time.Second), 1<<31))
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{Parent: parent, Handle: handle},
		Rate:       bytesPerSec,
		Limit:      limit,
		Buffer:     netlink.Xmittime(bytesPerSec, burst),
	}
	return q, nil, []string{fmt.Sprintf("tbf rate %dbit burst %d limit %d", im.Rate, burst, limit)}
}

// ClearImpairment removes the link's root qdisc, so the kernel's default
// queue takes over again.
func (lk *Link) ClearImpairment() error {
	n := lk.ns
	err := n.lab.apply(Step{NS: n.Name, Op: "qdisc", Desc: fmt.Sprintf("clear impairment of %s in %s", lk.name, n.Name),
		Cmds: []string{inNS(n, "tc qdisc del dev "+shellQuote(lk.name)+" root")}}, func() error {
		idx, err := lk.Index()
		if err != nil {
			return err
		}
		return lk.deleteRoot(idx)
	})
	if err != nil {
		return fmt.Errorf("clear impairment of %s in netns %q: %w", lk.name, n.Name, err)
	}
	return nil
}

// deleteRoot removes the root qdisc the lab may have installed on the link
// (a no-op for the kernel's default queue).
func (lk *Link) deleteRoot(idx int) error {
	return hostjournal.DeleteRootQdisc(lk.ns.h, idx, func(netlink.Qdisc) bool { return true })
}

// qdiscError turns the kernel's refusal of an unknown qdisc into a message
// a user can act on.
func qdiscError(kind string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("qdisc %s is not supported by this kernel: %w", kind, err)
	}
	return err
}

// String describes the impairment ("delay 20ms jitter 5ms loss 1% rate
// 1mbit").
func (im Impairment) String() string {
	var parts []string
	if im.Delay > 0 {
		parts = append(parts, "delay "+im.Delay.String())
	}
	if im.Jitter > 0 {
		parts = append(parts, "jitter "+im.Jitter.String())
	}
	if im.Loss > 0 {
		parts = append(parts, "loss "+strconv.FormatFloat(im.Loss, 'f', -1, 64)+"%")
	}
	if im.Rate > 0 {
		parts = append(parts, "rate "+FormatRate(im.Rate))
		if im.Shaper == "htb" {
			parts = append(parts, "(htb)")
		}
	}
	return strings.Join(parts, " ")
}

// rateUnits are tc's rate units: SI multiples of bits, and "bps" for bytes
// per second (as tc reads it).
var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

// ParseRate parses a rate as tc writes it: "1mbit", "500kbit", "10gbit",
// "1500bit"; "kbps" and "mbps" are bytes per second, as in tc. It returns
// bits per second.
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f <= 0 || f*u.mult > 1e13 {
			break
		}
		return uint64(f * u.mult), nil
	}
	return 0, fmt.Errorf("invalid rate %q (want e.g. \"1mbit\", \"500kbit\" or \"10gbit\")", s)
}

// FormatRate formats bits per second as tc would, to four significant
// digits ("1mbit", "1.5mbit", "4.019gbit").
func FormatRate(bps uint64) string {
	for _, u := range rateUnits[:5] {
		if float64(bps) >= u.mult {
			return strconv.FormatFloat(float64(bps)/u.mult, 'g', 4, 64) + u.suffix
		}
	}
	return fmt.Sprintf("%dbit", bps)
}
