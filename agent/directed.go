package agent

import (
	"fmt"
	"math"
	"slices"
)

// directed is directed exploration over hashed observations, in the
// manner of MBIE-EB (Strehl and Littman 2008) on the SimHash codes of
// novelty: it keeps n(c), the number of observations with code c, and the
// empirical transition counts between codes,
//
//	n(c, a),   n(c, a, c′, d) (d: whether the episode terminated at c′),
//
// and by value iteration on the empirical model an exploration value
//
//	U(c, a) = Σ_{c′,d} n(c, a, c′, d)/n(c, a) · (1/√n(c′) + γ (1−d) max_{a′} U(c′, a′)),
//
// the count bonus of the codes reached (as explore_bonus has it) summed
// over the moves ahead, with U = 1/(1 − γ), the largest value any pair can
// have, for a pair never tried. A terminal code is worth its own bonus
// and no future, so a rarely reached goal stays attractive while a hole
// that is often fallen into is not. While training, the planner adds
// β·U(c, a) to the score of every plan whose first action is a from the
// current code c, so the agent heads for the actions and regions it has
// tried least, over many steps, rather than dithering at random. The
// world model never sees U: its rewards and value targets are the
// environment's. Discrete action spaces only.
type directed struct {
	actions int
	gamma   float64
	index   map[uint64]int32 // code → node
	visits  []uint32         // n(c) per node
	pairs   []pair           // node·actions + a
	value   []float64        // U, node·actions + a
	edges   int
}

// pair is the transition counts of one (code, action) pair.
type pair struct {
	n    uint32 // tried
	next []edge // the outcomes
}

type edge struct {
	to   int32
	term bool
	n    uint32
}

// directedWork is the number of edge visits of value iteration per
// environment step: a sweep of a small map costs a few hundred, so many
// sweeps run per step; a large table of codes gets fewer.
const directedWork = 1 << 12

func newDirected(actions int, gamma float64) *directed {
	return &directed{actions: actions, gamma: gamma, index: map[uint64]int32{}}
}

// optimistic is the exploration value of a pair never tried.
func (d *directed) optimistic() float64 { return 1 / (1 - d.gamma) }

// node returns the node of code c, adding it if it is new.
func (d *directed) node(c uint64) int32 {
	if i, ok := d.index[c]; ok {
		return i
	}
	i := int32(len(d.index))
	d.index[c] = i
	d.visits = append(d.visits, 0)
	for range d.actions {
		d.pairs = append(d.pairs, pair{})
		d.value = append(d.value, d.optimistic())
	}
	return i
}

// start counts the first observation of an episode, of code c.
func (d *directed) start(c uint64) { d.visits[d.node(c)]++ }

// observe counts one transition from code c by action a to code next
// (terminated: the episode ended there).
func (d *directed) observe(c uint64, a int, next uint64, terminated bool) {
	from, to := d.node(c), d.node(next)
	d.visits[to]++
	p := &d.pairs[int(from)*d.actions+a]
	p.n++
	for i := range p.next {
		if e := &p.next[i]; e.to == to && e.term == terminated {
			e.n++
			return
		}
	}
	p.next = append(p.next, edge{to: to, term: terminated, n: 1})
	d.edges++
}

// update runs value iteration sweeps (Gauss–Seidel, in place) worth about
// directedWork edge visits.
func (d *directed) update() {
	per := len(d.pairs) + d.edges
	if per == 0 {
		return
	}
	for range max(1, directedWork/per) {
		d.sweep()
	}
}

// sweep is one pass of value iteration over every pair.
func (d *directed) sweep() {
	for i := range d.pairs {
		p := &d.pairs[i]
		if p.n == 0 {
			continue
		}
		var u float64
		for _, e := range p.next {
			v := 1 / math.Sqrt(float64(max(d.visits[e.to], 1)))
			if !e.term {
				v += d.gamma * d.best(e.to)
			}
			u += float64(e.n) * v
		}
		d.value[i] = u / float64(p.n)
	}
}

// best is max_a U(node, a).
func (d *directed) best(node int32) float64 {
	return slices.Max(d.value[int(node)*d.actions : int(node+1)*d.actions])
}

// values writes β·U(c, a) for every action a into dst (optimistic for a
// code never seen).
func (d *directed) values(dst []float64, c uint64, beta float64) {
	i, ok := d.index[c]
	for a := range dst {
		u := d.optimistic()
		if ok {
			u = d.value[int(i)*d.actions+a]
		}
		dst[a] = beta * u
	}
}

// directedState is what a checkpoint keeps of directed exploration: the
// codes in node order with their visits, and every pair's outcomes and
// value.
type directedState struct {
	Codes  []uint64 `json:"codes"`
	Visits []uint32 `json:"visits"`
	// Values: U per pair (node·actions + a).
	Values []float64 `json:"values"`
	// Next: per pair, its outcomes flattened as (node, terminated 0 or 1,
	// count) triples; a pair was tried as often as its counts add up to.
	Next [][]uint32 `json:"next"`
}

func (d *directed) state() *directedState {
	s := &directedState{Codes: make([]uint64, len(d.index)), Visits: d.visits, Values: d.value}
	for c, i := range d.index {
		s.Codes[i] = c
	}
	for _, p := range d.pairs {
		var nx []uint32
		for _, e := range p.next {
			t := uint32(0)
			if e.term {
				t = 1
			}
			nx = append(nx, uint32(e.to), t, e.n)
		}
		s.Next = append(s.Next, nx)
	}
	return s
}

func (d *directed) restore(s *directedState) error {
	if s == nil {
		return fmt.Errorf("no transition counts (the run explores with explore_directed)")
	}
	nodes, pairs := len(s.Codes), len(s.Codes)*d.actions
	if len(s.Visits) != nodes || len(s.Next) != pairs || len(s.Values) != pairs {
		return fmt.Errorf("transition counts: %d codes of %d actions need %d visit counts and %d pairs, have %d, %d and %d values", nodes, d.actions, nodes, pairs, len(s.Visits), len(s.Next), len(s.Values))
	}
	fresh := newDirected(d.actions, d.gamma)
	for _, c := range s.Codes {
		if _, dup := fresh.index[c]; dup {
			return fmt.Errorf("transition counts: code %#x listed twice", c)
		}
		fresh.node(c)
	}
	copy(fresh.visits, s.Visits)
	for i := range fresh.pairs {
		nx := s.Next[i]
		if len(nx)%3 != 0 {
			return fmt.Errorf("transition counts: pair %d has %d successor values, not (node, terminated, count) triples", i, len(nx))
		}
		p := &fresh.pairs[i]
		for j := 0; j < len(nx); j += 3 {
			if int(nx[j]) >= nodes || nx[j+1] > 1 || nx[j+2] == 0 {
				return fmt.Errorf("transition counts: pair %d has the outcome (node %d of %d, terminated %d, count %d)", i, nx[j], nodes, nx[j+1], nx[j+2])
			}
			p.next = append(p.next, edge{to: int32(nx[j]), term: nx[j+1] == 1, n: nx[j+2]})
			p.n += nx[j+2]
			fresh.edges++
		}
		if u := s.Values[i]; math.IsNaN(u) || u < 0 || u > fresh.optimistic() {
			return fmt.Errorf("transition counts: pair %d has the value %g (allowed: 0 to %g)", i, u, fresh.optimistic())
		}
		fresh.value[i] = s.Values[i]
	}
	*d = *fresh
	return nil
}
