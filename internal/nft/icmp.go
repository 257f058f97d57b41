package nft

import (
	"fmt"
	"slices"
	"strings"
)

// icmpTypes are the ICMP and ICMPv6 message types a rule can match, by the
// names nft uses.
var icmpTypes = map[string]map[string]byte{
	"icmp": {
		"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
		"echo-request": 8, "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11,
		"parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14,
	},
	"icmpv6": {
		"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
		"echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
		"nd-router-solicit": 133, "nd-router-advert": 134, "nd-neighbor-solicit": 135,
		"nd-neighbor-advert": 136, "nd-redirect": 137,
	},
}

// icmpTypeError explains an ICMP type that proto does not have.
func icmpTypeError(proto, typ string) error {
	names, ok := icmpTypes[proto]
	if !ok {
		return fmt.Errorf("an icmp type needs proto icmp or icmpv6, not %q", proto)
	}
	var known []string
	for k := range names {
		known = append(known, k)
	}
	slices.Sort(known)
	return fmt.Errorf("unknown %s type %q (want one of %s)", proto, typ, strings.Join(known, ", "))
}
