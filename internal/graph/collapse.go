package graph

import (
	"fmt"
	"strconv"
	"strings"
)

// collapse draws runs of alike leaf namespaces on one hub as one box: of a
// run of at least collapseRun kids that look the same (same interfaces,
// routes and rules, one link to the hub), the first two and the last stay,
// and the ones between become one box whose texts give the first and last
// of each name and address. Their ports on the hub become one pill too.
func (lo *layout) collapse() {
	merged := map[*pill]*pill{}
	gone := map[*box]bool{}
	for _, b := range lo.boxes {
		var kids []*box
		for i := 0; i < len(b.kids); {
			j := i + 1
			sig := lo.signature(b, b.kids[i])
			for sig != "" && j < len(b.kids) && lo.signature(b, b.kids[j]) == sig {
				j++
			}
			if j-i < collapseRun {
				kids = append(kids, b.kids[i:j]...)
				i = j
				continue
			}
			run := b.kids[i+2 : j-1]
			kids = append(kids, b.kids[i], b.kids[i+1], run[0], b.kids[j-1])
			lo.merge(b, run, merged)
			for _, k := range run[1:] {
				gone[k] = true
			}
			i = j
		}
		b.kids = kids
	}
	var boxes []*box
	for _, b := range lo.boxes {
		if !gone[b] {
			boxes = append(boxes, b)
		}
	}
	lo.boxes = boxes
	for _, b := range lo.boxes {
		var ps []*pill
		for _, p := range b.pills {
			if _, ok := merged[p]; !ok {
				ps = append(ps, p)
			}
		}
		b.pills = ps
	}
	lo.edges = lo.pillEdges(merged)
	lo.linkKids()
}

// collapseRun is the shortest run of alike namespaces that collapses.
const collapseRun = 5

// signature says what kid k of b looks like, or "" when it is not a leaf
// that may collapse.
func (lo *layout) signature(b, k *box) string {
	n := k.ns
	if len(k.kids) > 0 || len(b.links[k]) != 1 || n.Existing || n.Host || len(n.Rules)+len(n.Services) > 0 {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%v|%q|", n.Forwarding, n.Routes)
	for _, p := range k.pills {
		fmt.Fprintf(&s, "%s/%s/%d/%v;", p.it.Name, p.it.Kind, len(p.it.Addrs), p.it.Up)
	}
	mine := b.mine(b.links[k][0])
	fmt.Fprintf(&s, "|%s/%s/%v", mine.it.Kind, mine.it.Master, mine.it.Up)
	return s.String()
}

// merge makes run[0] stand for every box of run, and its pills (and the
// port on b that leads to it) for the others', recording that in merged.
func (lo *layout) merge(b *box, run []*box, merged map[*pill]*pill) {
	first := run[0]
	for _, k := range run {
		first.members = append(first.members, k.ns.Name)
	}
	first.title = memberList(first.members)
	ports := make([]*pill, len(run))
	for i, k := range run {
		ports[i] = b.mine(b.links[k][0])
	}
	mergePills(ports, merged)
	for j := range first.pills {
		ps := make([]*pill, len(run))
		for i, k := range run {
			ps[i] = k.pills[j]
		}
		mergePills(ps, merged)
	}
}

// mergePills relabels ps[0] to stand for all of ps: each line that differs
// shows the first and the last value, and the kind says how many.
func mergePills(ps []*pill, merged map[*pill]*pill) {
	p := ps[0]
	last := ps[len(ps)-1]
	for i := range p.lines {
		if i < len(last.lines) && last.lines[i] != p.lines[i] {
			p.lines[i] += " … " + last.lines[i]
		}
	}
	p.lines[1] += " ×" + strconv.Itoa(len(ps))
	p.count = len(ps)
	for _, q := range ps {
		p.members = append(p.members, q.ref.String())
		if q != p {
			merged[q] = p
		}
	}
}
