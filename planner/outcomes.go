package planner

import (
	"math"
	"slices"
)

// ActionOutcomes is what the planner saw of one first action at its last
// decision: the sample of returns its risk measure aggregated into the
// action's score.
//
// Returns are the outcomes of one candidate that begins with Action, as
// the planner computed them for its risk measure (see the package
// documentation): its K futures' returns G_k, or with a QuantileValuer
// its K·M atoms G_kj (G^λ and G^λ_j for Lambda < 1). They are sorted
// ascending, and each stands for the same mass 1/(K·M) (M = 1 without
// quantiles), so that
//
//	Score = Risk.Aggregate(Returns) + Bonus
//
// with the planner's Risk (up to rounding for the mean, whose sum the
// sort reorders). A NaN outcome appears as −Inf, as the risk measure saw
// it.
type ActionOutcomes struct {
	// Action is the first action: one value, the index, for a discrete
	// space; Dim values for a box.
	Action []float64
	// Returns are the K·M outcomes, ascending; empty when no candidate
	// began with Action in the last iteration (CEM and MPPI over a
	// discrete space only).
	Returns []float64
	// Score is the candidate's aggregated score, NaN when Returns is
	// empty.
	Score float64
	// Bonus is the preference SetFirstBonus added to the score (0 without).
	Bonus float64
	// Chosen reports the first action Plan returned. No entry of a box is
	// chosen: the action taken there is the refitted mean, which no
	// candidate equals.
	Chosen bool
}

// outcomeLog holds what RecordOutcomes keeps, allocated once.
type outcomeLog struct {
	entries []ActionOutcomes // one per action (discrete) or elite (box), their slices in one array
	n       int              // entries filled by the last Plan
	best    []int            // per discrete first action: its best candidate of the last iteration, −1 for none
}

// RecordOutcomes turns on (or off) the record of the outcomes behind each
// first action's score, which Outcomes returns after every Plan. The
// buffers are allocated here, so that Plan still allocates nothing; with
// the record off (the default) Plan does no extra work.
func (p *MPC) RecordOutcomes(on bool) {
	if !on {
		p.log = nil
		return
	}
	if p.log != nil {
		return
	}
	n := p.cfg.Elites // the best candidates of a box
	if p.spec.Discrete > 0 {
		n = p.spec.Discrete
	}
	per := p.cfg.Samples * max(p.nq, 1)
	lg := &outcomeLog{entries: make([]ActionOutcomes, n), best: make([]int, p.spec.Discrete)}
	vals := make([]float64, n*(per+p.width))
	for i := range lg.entries {
		e := &lg.entries[i]
		e.Action = vals[:p.width:p.width]
		e.Returns = vals[p.width : p.width+per : p.width+per]
		vals = vals[p.width+per:]
	}
	p.log = lg
}

// Outcomes returns what the last Plan saw of each first action, or nil
// when the record is off (see RecordOutcomes) or before the first Plan.
// The entries are owned by the planner and valid until the next Plan.
//
// Which candidates they describe depends on the method:
//   - Rollout: every first action a, in index order, with its K futures
//     (Returns, the outcomes behind its score: the planner's whole
//     estimate of a).
//   - CEM and MPPI over a discrete space: every first action a, in index
//     order, with the best-scoring candidate of the last iteration that
//     begins with a (ties to the lower candidate index): the value of a
//     under the best continuation the search found. An action no
//     candidate began with has empty Returns.
//   - CEM and MPPI over a box: the Elites best candidates of the last
//     iteration, best first, each with its own first action, since no two
//     candidates share one.
func (p *MPC) Outcomes() []ActionOutcomes {
	if p.log == nil || p.log.n == 0 {
		return nil
	}
	return p.log.entries[:p.log.n]
}

// candidateOutcomes returns the outcomes finish (or planRollout) left of
// every row, w per row: the returns (w = 1) or their atoms (w = M).
func (p *MPC) candidateOutcomes() (out []float64, w int) {
	if p.qv != nil {
		return p.atoms, p.nq
	}
	return p.ret, 1
}

// recordOutcomes fills the log, if on, from the last iteration's scores
// and outcomes, once Plan has chosen p.action.
func (p *MPC) recordOutcomes() {
	lg := p.log
	if lg == nil {
		return
	}
	h, k := p.cfg.Horizon, p.cfg.Samples
	out, w := p.candidateOutcomes()
	fill := func(e *ActionOutcomes, cand int) {
		e.Returns = e.Returns[:k*w]
		copy(e.Returns, out[cand*k*w:(cand+1)*k*w])
		slices.Sort(e.Returns) // Aggregate leaves the mean's unsorted
		e.Score = p.scores[cand]
	}
	bonus := func(e *ActionOutcomes, a int) {
		e.Bonus = 0
		if p.bonus != nil {
			e.Bonus = p.bonus[a]
		}
	}
	switch {
	case p.ro != nil:
		for a := range p.spec.Discrete {
			e := &lg.entries[a]
			e.Action[0] = float64(a)
			fill(e, a) // row block a holds first action a's futures
			bonus(e, a)
			e.Chosen = float64(a) == p.action[0]
		}
		lg.n = p.spec.Discrete
	case p.spec.Discrete > 0:
		for a := range lg.best {
			lg.best[a] = -1
		}
		for i := range p.cfg.Candidates {
			a := int(p.cand[i*h])
			if b := lg.best[a]; b < 0 || p.scores[i] > p.scores[b] {
				lg.best[a] = i
			}
		}
		for a, i := range lg.best {
			e := &lg.entries[a]
			e.Action[0] = float64(a)
			if i < 0 {
				e.Returns, e.Score = e.Returns[:0], math.NaN()
			} else {
				fill(e, i)
			}
			bonus(e, a)
			e.Chosen = float64(a) == p.action[0]
		}
		lg.n = p.spec.Discrete
	default:
		// refit sorted the last iteration's candidates, best first.
		for j, i := range p.order.idx[:len(lg.entries)] {
			e := &lg.entries[j]
			copy(e.Action, p.cand[i*h*p.width:i*h*p.width+p.width])
			fill(e, i)
			e.Bonus, e.Chosen = 0, false
		}
		lg.n = len(lg.entries)
	}
}
