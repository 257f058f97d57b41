package probe

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// The pcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.html):
// a 24-byte file header, then a 16-byte header before each frame, all in the
// writer's byte order (little-endian here), which the magic number tells.
const (
	pcapMagic      = 0xa1b2c3d4 // microsecond timestamps
	pcapFileHeader = 24
	pcapRecHeader  = 16
	// Link types (https://www.tcpdump.org/linktypes.html).
	linkTypeEthernet = 1
	linkTypeRaw      = 101 // bare IPv4 or IPv6 packets, as a tun device's
)

// writePcap writes pkts, frames of a link whose hardware type is hatype, to
// w as a pcap file.
func writePcap(w io.Writer, pkts []Packet, hatype uint16) error {
	bw := bufio.NewWriter(w)
	var h [pcapFileHeader]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	// h[8:16]: time zone offset and accuracy, always 0.
	le.PutUint32(h[16:], SnapLen)
	le.PutUint32(h[20:], pcapLinkType(hatype))
	bw.Write(h[:])
	for _, p := range pkts {
		if len(p.Data) > p.Len {
			return fmt.Errorf("write pcap: frame of %d bytes captured from %d on the wire", len(p.Data), p.Len)
		}
		var r [pcapRecHeader]byte
		le.PutUint32(r[0:], uint32(p.Time.Unix()))
		le.PutUint32(r[4:], uint32(p.Time.Nanosecond()/1000))
		le.PutUint32(r[8:], uint32(len(p.Data)))
		le.PutUint32(r[12:], uint32(p.Len))
		bw.Write(r[:])
		bw.Write(p.Data)
	}
	return bw.Flush()
}

// pcapLinkType is the pcap link type of frames captured on a link of
// hardware type hatype.
func pcapLinkType(hatype uint16) uint32 {
	if hatype == unix.ARPHRD_NONE {
		return linkTypeRaw
	}
	return linkTypeEthernet
}
