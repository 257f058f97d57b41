package lab

import (
	"encoding/binary"
	"errors"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Settle polls the operational state of every link of a namespace until
// the new ones are up. Handle.LinkList decodes every attribute of every
// link, statistics included, and the kernel fills them all in: with 200
// veths on the host's bridge, that was most of what scale.star spent
// waiting for its links. linkStates asks for the links without their
// statistics and reads only their index, name and state.

// linkState is what Settle needs to know of a link.
type linkState struct {
	index int
	name  string
	oper  netlink.LinkOperState
	flags uint32 // IFF_*
}

// rtextFilterSkipStats asks a link dump to leave out the statistics
// (RTEXT_FILTER_SKIP_STATS in linux/rtnetlink.h).
const rtextFilterSkipStats = 1 << 3

var errDumpInterrupted = errors.New("dump interrupted")

// linkStates lists ns's links, as Handle.LinkList does but with only
// what Settle reads, on ns's batch socket (rb holds each read).
func linkStates(ns *Netns, rb []byte) ([]linkState, error) {
	var links []linkState
	err := dumpBatch(ns, rb, linkStatesReq, func() { links = links[:0] }, func(typ uint16, b []byte) {
		if typ == unix.RTM_NEWLINK {
			if ls, ok := parseLinkState(b); ok {
				links = append(links, ls)
			}
		}
	})
	return links, err
}

// linkStatesReq asks for every link without its statistics.
func linkStatesReq() *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	mask := make([]byte, 4)
	binary.NativeEndian.PutUint32(mask, rtextFilterSkipStats)
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, mask))
	return req
}

// dumpBatch sends the dump request that mk makes on ns's batch socket and
// hands each message of the answer to each (its type and payload, valid
// only during the call). It retries a dump that the kernel reports as
// interrupted by a change meanwhile, calling reset first.
func dumpBatch(ns *Netns, rb []byte, mk func() *nl.NetlinkRequest, reset func(), each func(uint16, []byte)) error {
	fd := ns.batchFD()
	if fd < 0 {
		return errors.New("no netlink socket for batched requests")
	}
	ns.batchMu.Lock()
	defer ns.batchMu.Unlock()
	var err error
	for i := range 5 {
		if i > 0 {
			reset()
		}
		if err = dumpOnce(fd, rb, mk(), each); !errors.Is(err, errDumpInterrupted) {
			return err
		}
	}
	return err
}

// dumpOnce sends one dump request and reads its answer. ns.batchMu is
// held.
func dumpOnce(fd int, rb []byte, req *nl.NetlinkRequest, each func(uint16, []byte)) error {
	req.Seq = nextSeqs(1)
	if err := unix.Sendto(fd, req.Serialize(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	interrupted := false
	for {
		n, _, err := unix.Recvfrom(fd, rb, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for b := rb[:n]; len(b) > 0; {
			m, rest, ok := nextMessage(b)
			if !ok {
				return errors.New("dump: malformed netlink message")
			}
			b = rest
			if m.seq != req.Seq {
				continue // a late answer to an earlier batch
			}
			if m.flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				if interrupted {
					return errDumpInterrupted
				}
				return nil
			case unix.NLMSG_ERROR:
				if err := nlErrno(m.payload); err != nil {
					return err
				}
				return errors.New("dump: empty error")
			default:
				each(m.typ, m.payload)
			}
		}
	}
}

// parseLinkState reads a link's index, name and operational state from an
// RTM_NEWLINK message's payload.
func parseLinkState(b []byte) (linkState, bool) {
	if len(b) < unix.SizeofIfInfomsg {
		return linkState{}, false
	}
	ls := linkState{index: int(int32(binary.NativeEndian.Uint32(b[4:8]))), flags: binary.NativeEndian.Uint32(b[8:12])}
	eachAttr(b[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			for len(v) > 0 && v[len(v)-1] == 0 {
				v = v[:len(v)-1]
			}
			ls.name = string(v)
		case unix.IFLA_OPERSTATE:
			if len(v) >= 1 {
				ls.oper = netlink.LinkOperState(v[0])
			}
		}
	})
	return ls, ls.name != ""
}

// eachAttr hands each route attribute of b (its type without the nested
// flag, and its value) to fn, without the allocations of
// nl.ParseRouteAttr: Settle's polls read every link and group this way.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:4])&^unix.NLA_F_NESTED, b[unix.SizeofRtAttr:l])
		b = b[min(rtaAlign(l), len(b)):]
	}
}

func rtaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }
