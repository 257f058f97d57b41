package probe

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SnapLen is how many bytes of each frame a Capture keeps (tcpdump's
// default is larger, but a lab's frames are no longer than their MTU, or
// 64 KiB with segmentation offload).
const SnapLen = 65536

// MaxPackets and MaxBytes bound the frames one Capture keeps; later ones
// are counted as dropped.
const (
	MaxPackets = 100000
	MaxBytes   = 256 << 20
)

// A Capture records the frames a link sends and receives, as tcpdump -i
// does: an AF_PACKET socket opened inside the link's namespace and bound to
// the link's index, read on an ordinary goroutine through the runtime
// poller. Frames are decoded (DecodePacket) as they arrive and kept in
// memory; WritePcap writes them as a pcap file.
type Capture struct {
	f    *os.File
	rc   syscall.RawConn
	keep PacketMatch
	buf  []byte
	oob  []byte

	mu      sync.Mutex // guards the fields below, and each read of the socket
	pkts    []Packet
	bytes   int // of the kept frames' data
	hatype  uint16
	dropped int // kept-frame limit plus the kernel's own drops
	err     error
	stopped bool
	once    sync.Once
	done    chan struct{}
}

// StartCapture starts recording the frames of the link with index ifindex in
// the network namespace nsFD. Only the frames keep matches are kept.
func StartCapture(nsFD, ifindex int, keep PacketMatch) (*Capture, error) {
	// Protocol 0: the socket receives nothing until it is bound to the
	// link, so no frame of another link slips in before bind.
	fd, err := within(nsFD, func() (int, error) {
		return unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	if err := setupCapture(fd, ifindex); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "capture")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &Capture{f: f, rc: rc, keep: keep, buf: make([]byte, SnapLen), oob: make([]byte, 64), done: make(chan struct{})}
	go c.read()
	return c, nil
}

func setupCapture(fd, ifindex int) error {
	// Kernel timestamps, and a receive queue that holds a burst.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("packet socket timestamps: %w", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20) // best effort: capped by net.core.rmem_max
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to link %d: %w", ifindex, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read receives frames until Stop closes the socket.
func (c *Capture) read() {
	defer close(c.done)
	err := c.rc.Read(func(fd uintptr) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.drainLocked(int(fd))
	})
	c.mu.Lock()
	if err != nil && !c.stopped && c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// drainLocked receives every frame queued on the socket. It returns true
// when reading must end (a socket error), false when the queue is empty.
func (c *Capture) drainLocked(fd int) bool {
	for {
		n, oobn, _, from, err := unix.Recvmsg(fd, c.buf, c.oob, unix.MSG_TRUNC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err == unix.ENETDOWN:
			// The link went down (or away): the kernel resumes
			// delivering when it comes back up.
			continue
		case err != nil:
			c.err = fmt.Errorf("read packet socket: %w", err)
			return true
		}
		c.add(n, c.oob[:oobn], from)
	}
}

// add decodes the frame in c.buf and keeps it when it matches.
func (c *Capture) add(n int, oob []byte, from unix.Sockaddr) {
	ll, _ := from.(*unix.SockaddrLinklayer)
	if ll == nil {
		return
	}
	c.hatype = ll.Hatype
	data := append([]byte(nil), c.buf[:min(n, len(c.buf))]...)
	p := DecodePacket(data, n, ll.Hatype, ll.Pkttype == unix.PACKET_OUTGOING, timestamp(oob))
	if !c.keep.Match(&p) {
		return
	}
	if len(c.pkts) >= MaxPackets || c.bytes+len(data) > MaxBytes {
		c.dropped++
		return
	}
	c.bytes += len(data)
	c.pkts = append(c.pkts, p)
}

// timestamp reads the kernel's receive time from the control messages.
func timestamp(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
				continue
			}
			switch len(m.Data) { // struct timespec: two longs
			case 16:
				return time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:])))
			case 8:
				return time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data))), int64(int32(binary.NativeEndian.Uint32(m.Data[4:]))))
			}
		}
	}
	return time.Now()
}

// Sync takes in every frame the kernel has queued for the capture so far:
// after it, Packets includes everything that crossed the link before Sync
// was called.
func (c *Capture) Sync() {
	c.rc.Control(func(fd uintptr) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.drainLocked(int(fd))
	})
}

// Packets returns the frames kept so far, in the order they crossed the link.
func (c *Capture) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.pkts...)
}

// Dropped returns how many matching frames were not kept: past MaxPackets,
// or dropped by the kernel because the socket's queue was full.
func (c *Capture) Dropped() int {
	c.rc.Control(func(fd uintptr) {
		st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err == nil {
			c.mu.Lock()
			c.dropped += int(st.Drops) // the kernel resets its counters on each read
			c.mu.Unlock()
		}
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// Err returns the error that ended the capture early, if any.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop takes in what is queued, closes the socket and waits for the reader.
// The frames stay available. Stopping twice is harmless.
func (c *Capture) Stop() {
	c.once.Do(func() {
		c.Sync()
		c.Dropped()
		c.mu.Lock()
		c.stopped = true
		c.mu.Unlock()
		c.f.Close()
		<-c.done
	})
}

// WritePcap writes the kept frames to w as a pcap file (microsecond
// timestamps, the format every tcpdump reads).
func (c *Capture) WritePcap(w io.Writer) error {
	c.mu.Lock()
	pkts, hatype := c.pkts, c.hatype
	c.mu.Unlock()
	return writePcap(w, pkts, hatype)
}
