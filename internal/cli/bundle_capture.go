package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nsscript/nsscript/internal/lab"
)

// writeCaptures writes every capture of the lab to the bundle as a pcap
// file, cap1-host-veth1.pcap, which tcpdump -r and Wireshark read. The files
// are written again at each failure, so they hold what the captures recorded
// up to the last one; summary.txt names each file once.
func (b *bundler) writeCaptures() error {
	for _, c := range b.l.Captures() {
		name := strings.TrimSuffix(c.File, ".pcap") + "-" + fileName(c.Link.NS().Name+"-"+c.Link.Name()) + ".pcap"
		if err := c.Save(filepath.Join(b.dir, name)); err != nil {
			return fmt.Errorf("capture on %s: %w", c.Link, err)
		}
		if b.saved == nil {
			b.saved = map[*lab.Capture]bool{}
		}
		if !b.saved[c] {
			b.saved[c] = true
			what := "every packet"
			if !c.Filter.IsZero() {
				what = c.Filter.String()
			}
			line := fmt.Sprintf("capture %s (%s, from %s): %s\n", c.Link, what, c.Pos, name)
			if err := appendFile(filepath.Join(b.dir, "summary.txt"), line); err != nil {
				return err
			}
		}
	}
	return nil
}
