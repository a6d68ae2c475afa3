// Package planner chooses actions by model-predictive control over sampled
// latent futures.
//
// At every decision the planner searches for an action sequence
// a_0 … a_{H−1} that maximises the predicted return from the current
// latent z_0. For each of N candidate sequences it draws K futures from
// the model (z_{h+1} ~ p(· | z_h, a_h)) and scores each future by its
// continuation-discounted return, as TD-MPC2 (Hansen et al. 2024) and
// DreamerV3 (Hafner et al. 2023) do:
//
//	G = Σ_{h<H} γ^h (Π_{j<h} ĉ_j) r̂_h  +  γ^H (Π_{j<H} ĉ_j) V(z_H)
//
// where r̂_h = r̂(z_h, a_h) is the predicted reward, ĉ_h = ĉ(z_h, a_h) the
// predicted probability that the episode continues past step h, V the
// terminal value and γ the discount. A model that learns an action value
// q(z, a) ≈ E[r + γ ĉ V(z')] (an ActionValuer) scores the last step with
// it instead,
//
//	G = Σ_{h<H−1} γ^h (Π_{j<h} ĉ_j) r̂_h  +  γ^{H−1} (Π_{j<H−1} ĉ_j) q(z_{H−1}, a_{H−1}),
//
// so that the value is never read off a predicted next latent: where a
// move has several outcomes, a predicted mean (or a Gaussian sample) can
// lie between them, off the states the value was trained on. With H = 1
// the planner then acts greedily on q. With Config.Lambda λ < 1 a future
// scores the TD(λ) return over its h-step returns G⁽ʰ⁾, the first h − 1
// imagined rewards bootstrapped by q(z_{h−1}, a_{h−1}):
//
//	G^λ = (1 − λ) Σ_{h=1}^{H−1} λ^{h−1} G⁽ʰ⁾ + λ^{H−1} G⁽ᴴ⁾,   G⁽¹⁾ = q(z_0, a_0),
//
// which keeps in part the one-step action value, exact over a move's
// outcomes, where K sampled futures estimate them with noise (DreamerV3
// regresses its critic on the same λ-return). A Risk measure aggregates the K
// scores of a candidate into one.
//
// A risk measure over K futures of H steps sees nothing of the risk past
// the horizon while the action value there is a mean. A model whose
// action value comes with M quantiles θ_1 … θ_M of the return (a
// QuantileValuer) lets it see that far: each future k then contributes M
// atoms instead of one score,
//
//	G_kj = Σ_{h<H−1} γ^h (Π_{i<h} ĉ_i) r̂_h  +  γ^{H−1} (Π_{i<H−1} ĉ_i) θ_j(z_{H−1}, a_{H−1}),   j = 1 … M,
//
// (the imagined rewards and continuations of future k, θ_j at its latent
// and action of step H − 1), and the risk measure aggregates the K·M
// atoms of a candidate, each of mass 1/(KM), as it aggregates K scores.
// With λ < 1 every h-step return G⁽ʰ⁾ has its M atoms G⁽ʰ⁾_j,
// bootstrapped by θ_j at step h − 1, and atom j of the score is
//
//	G^λ_j = (1 − λ) Σ_{h=1}^{H−1} λ^{h−1} G⁽ʰ⁾_j + λ^{H−1} G⁽ᴴ⁾_j,
//
// the sum of the h-step returns quantile by quantile: their comonotone
// sum, which takes the h-step returns as increasing functions of one
// outcome. Of all the ways they may depend on each other it gives the
// lowest lower tail (the mean of the worst α of a sum is at least the
// sum of its terms' worst-α means, with equality for comonotone terms),
// so that CVaR errs on the side of caution. With the mean risk the score
// is the mean of the atoms: the mean of the distributional value takes
// the place of q wherever q would be read (the greedy actions of the
// Rollout method's later steps stay those of q).
//
// CEM then refits the sampling
// distribution to the best candidates, MPPI to all candidates weighted by
// their scores, for a number of iterations; the planner acts with the
// refitted distribution's mean (continuous) or mode (discrete) at step 0,
// not with the single best sample, which overfits the model's errors.
//
// The distribution is warm-started from the previous decision's plan
// shifted by one step. A discrete space whose n^H sequences (H > 1)
// number no more than N is searched exactly instead: every sequence is a candidate,
// scored once on the futures of the candidates it replaces, and one
// iteration refits to the best of them (see sequences). On common
// scenarios (below) the sequences that share a prefix share its imagined
// steps, and the exact search rolls them out as a tree of prefixes.
//
// The K futures of a candidate are drawn independently of the other
// candidates' by default. With Config.Noise "common" future k of every
// candidate takes the same draws (common random numbers, one scenario per
// k, the same for every iteration of a decision), as PEGASUS fixes its
// scenarios: two candidates then differ in score by what their actions
// do, not by their luck, which on a model whose action gaps are small
// next to its noise keeps sampled futures from choosing at random.
//
// For a discrete action space and a model with an action value, the
// Rollout method searches no open-loop sequence: it scores every first
// action by K futures in which each later action is greedy on q at the
// latent that future reached (see planRollout), so that a future that
// slipped acts on where it slipped to. The planner knows nothing of how
// the model is built: it plans over the small Model interface.
package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Model is a batched latent dynamics model with reward, continuation and
// value heads.
type Model interface {
	// LatentDim is the width of a latent.
	LatentDim() int
	// ActionDim is the width of the action vectors the model takes: the
	// number of actions (one-hot) for a discrete space, the action
	// dimension for a continuous one.
	ActionDim() int
	// Step advances rows latents one step: z is rows×LatentDim, a is
	// rows×ActionDim; it writes next (rows×LatentDim), reward r̂(z, a)
	// (rows) and continuation probability ĉ(z, a) (rows). With sample true
	// each row's next latent is a draw from the predicted distribution
	// using rng; with sample false it is the predicted mean (or most likely
	// mode).
	Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand)
	// Value writes the terminal value V(z) of each of rows latents.
	Value(dst, z []float32, rows int)
}

// CommonNoiseModel is a Model that can sample a step with common random
// numbers: StepCommon is Step with sample true, except that it draws the
// noise of period rows only and row i uses the draws of row i mod period.
// Config.Noise "common" uses it with period K, so that future k of every
// candidate shares one draw.
type CommonNoiseModel interface {
	StepCommon(next, reward, cont, z, a []float32, rows, period int, rng *rand.Rand)
}

// ActionValuer is a Model that may learn an action value. When
// HasActionValue reports true, the planner scores the last step of every
// candidate with ActionValue, which writes q(z, a) of rows (latent,
// action) pairs into dst (rows), instead of r̂ + γ ĉ V(z_H).
type ActionValuer interface {
	HasActionValue() bool
	ActionValue(dst, z, a []float32, rows int)
}

// QuantileValuer is a model whose action value may come with the
// distribution of the return of (z, a): QuantileCount reports the number
// M of its quantiles (0 for none), and ActionValueQuantiles writes, for
// rows (latent, action) pairs, M values per row into dst (rows×M, row
// after row): the quantiles θ_1 ≤ … ≤ θ_M of the return's distribution
// at τ_i = (2i − 1)/(2M), each standing for a mass 1/M, whose mean is
// q(z, a). The order matters where the planner sums returns quantile by
// quantile (Lambda < 1). When the model is also an ActionValuer with
// an action value, the planner reads them wherever it would read q, for
// every risk measure (see the package documentation).
type QuantileValuer interface {
	QuantileCount() int
	ActionValueQuantiles(dst, z, a []float32, rows int)
}

// ActionSpec describes the action space: Discrete > 0 actions {0, …,
// Discrete−1}, or a box of Dim > 0 dimensions with finite bounds
// Low[d] < High[d].
type ActionSpec struct {
	Discrete  int
	Dim       int
	Low, High []float64
}

// Validate checks that exactly one kind of space is described.
func (s ActionSpec) Validate() error {
	switch {
	case s.Discrete < 0 || s.Dim < 0 || (s.Discrete > 0) == (s.Dim > 0):
		return fmt.Errorf("%w: action spec with Discrete %d and Dim %d (allowed: one of them positive)", ErrConfig, s.Discrete, s.Dim)
	case s.Discrete > 0 && (s.Low != nil || s.High != nil):
		return fmt.Errorf("%w: discrete action spec with bounds (allowed: none)", ErrConfig)
	case s.Dim > 0 && (len(s.Low) != s.Dim || len(s.High) != s.Dim):
		return fmt.Errorf("%w: action bounds of lengths %d and %d (allowed: Dim = %d each)", ErrConfig, len(s.Low), len(s.High), s.Dim)
	}
	for d := range s.Dim {
		lo, hi := s.Low[d], s.High[d]
		if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return fmt.Errorf("%w: action bounds [%g, %g] in dimension %d (allowed: finite, Low < High)", ErrConfig, lo, hi, d)
		}
	}
	return nil
}

// width is the number of values per step of a plan: 1 (the index) for a
// discrete space, Dim for a box.
func (s ActionSpec) width() int {
	if s.Discrete > 0 {
		return 1
	}
	return s.Dim
}

// MPC plans with CEM or MPPI over a Model. Its buffers are allocated by New
// for N·K rows, so a decision allocates nothing. It is not safe for
// concurrent use.
type MPC struct {
	cfg   Config
	spec  ActionSpec
	model Model
	q     ActionValuer // nil unless the model has an action value
	// qv reads the action value's quantiles (nq per row) where q would
	// be read; nil unless q is set and the model has quantiles.
	qv QuantileValuer
	nq int

	latent, width, modelWidth, rows int
	sample                          bool

	// Sampling distribution per step h: mean and std (H×Dim) for a box,
	// probs (H×Discrete) for a discrete space.
	mean, std, probs []float64
	// Prior of the distribution per dimension, and the std floor.
	priorMean, priorStd, minStd []float64

	cand   []float64 // N×H×width candidate actions (indices when discrete)
	scores []float64 // N aggregated scores
	weight []float64 // N refit weights (1 for elites in CEM)
	order  byScore   // candidate indices, best first
	fit    []float64 // refit accumulator (H×Dim or H×Discrete)

	z, next        []float32 // rows×LatentDim
	act            []float32 // rows×ActionDim
	rew, cont, val []float32 // rows
	ret, disc      []float64 // rows
	acc            []float64 // rows (rows×nq with quantiles): the λ-weighted h-step returns of h < H (Lambda < 1)
	qt             []float32 // rows×nq: the quantiles of q at the rows (nil without)
	atoms          []float64 // rows×nq: the atoms of every row's return (nil without)
	plan, action   []float64 // H×width, width
	score          float64
	bonus          []float64 // per first action (discrete), or nil
	ro             *rollout  // the Rollout method's buffers, or nil
	exhaustive     bool      // the candidates are every discrete sequence (see sequences)
	flat           bool      // evaluate every sequence's rows at every step, never as a tree (tests)
	// With Config.Noise "common": the model's common-noise step, and the
	// source of a decision's scenarios, reseeded with seed before every
	// evaluation so that each iteration draws the same ones.
	cn       CommonNoiseModel
	scenSrc  *rand.PCG
	scen     *rand.Rand
	scenSeed uint64
	log      *outcomeLog // the record of RecordOutcomes, or nil
}

// byScore sorts candidate indices by descending score, ties by index, so
// that selection is deterministic; sort.Sort on a pointer to it allocates
// nothing.
type byScore struct {
	idx    []int
	scores []float64
}

func (b *byScore) Len() int      { return len(b.idx) }
func (b *byScore) Swap(i, j int) { b.idx[i], b.idx[j] = b.idx[j], b.idx[i] }
func (b *byScore) Less(i, j int) bool {
	si, sj := b.scores[b.idx[i]], b.scores[b.idx[j]]
	return si > sj || (si == sj && b.idx[i] < b.idx[j])
}

// New returns a planner for the model and action space. Zero fields of cfg
// take their defaults (see Config). It checks that the model's ActionDim
// matches spec (Discrete for a discrete space, Dim for a box).
func New(cfg Config, spec ActionSpec, model Model) (*MPC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	exhaustive := false
	if seqs, ok := sequences(spec.Discrete, cfg.Horizon, cfg.Candidates); ok && cfg.Method != Rollout && cfg.Horizon > 1 {
		// Every sequence once, in one iteration: an exact search, each
		// sequence on the futures of the candidates it replaces, with
		// the same share of elites.
		if cfg.Samples > 1 {
			cfg.Samples *= cfg.Candidates / seqs
		}
		cfg.Elites = max(1, cfg.Elites*seqs/cfg.Candidates)
		exhaustive, cfg.Candidates, cfg.Iterations = true, seqs, 1
	}
	mw := spec.Dim
	if spec.Discrete > 0 {
		mw = spec.Discrete
	}
	if model.ActionDim() != mw {
		return nil, fmt.Errorf("%w: model takes actions of width %d, action spec needs %d", ErrConfig, model.ActionDim(), mw)
	}
	if model.LatentDim() < 1 {
		return nil, fmt.Errorf("%w: model latent dimension %d (allowed: ≥ 1)", ErrConfig, model.LatentDim())
	}
	n, h, k, l := cfg.Candidates, cfg.Horizon, cfg.Samples, model.LatentDim()
	q, _ := model.(ActionValuer)
	if cfg.Method == Rollout {
		switch {
		case spec.Discrete == 0:
			return nil, fmt.Errorf("%w: method rollout needs a discrete action space (allowed for a box: cem, mppi)", ErrConfig)
		case q == nil || !q.HasActionValue():
			return nil, fmt.Errorf("%w: method rollout needs a model with an action value (value_target q)", ErrConfig)
		}
		n = max(n, spec.Discrete) // the rollout evaluates every first action
	}
	p := &MPC{
		cfg: cfg, spec: spec, model: model, exhaustive: exhaustive,
		latent: l, width: spec.width(), modelWidth: mw, rows: n * k, sample: k > 1,
		scores: make([]float64, n),
		weight: make([]float64, n),
		fit:    make([]float64, h*mw),
		z:      make([]float32, n*k*l),
		next:   make([]float32, n*k*l),
		act:    make([]float32, n*k*mw),
		rew:    make([]float32, n*k),
		cont:   make([]float32, n*k),
		val:    make([]float32, n*k),
		ret:    make([]float64, n*k),
		disc:   make([]float64, n*k),
	}
	p.cand = make([]float64, n*h*p.width)
	if exhaustive {
		p.enumerate()
	}
	p.plan = make([]float64, h*p.width)
	p.action = make([]float64, p.width)
	p.order = byScore{idx: make([]int, n), scores: p.scores}
	if q != nil && q.HasActionValue() {
		p.q = q
		if qv, ok := model.(QuantileValuer); ok && qv.QuantileCount() > 0 {
			p.qv, p.nq = qv, qv.QuantileCount()
			p.qt = make([]float32, n*k*p.nq)
			p.atoms = make([]float64, n*k*p.nq)
		}
	}
	p.acc = make([]float64, n*k*max(p.nq, 1))
	if cn, ok := model.(CommonNoiseModel); ok && cfg.Noise == NoiseCommon && p.sample {
		p.cn, p.scenSrc = cn, rand.NewPCG(0, 0)
		p.scen = rand.New(p.scenSrc)
	}
	if cfg.Method == Rollout {
		p.ro = newRollout(spec.Discrete*k, spec.Discrete, h, l)
	}
	if spec.Discrete > 0 {
		p.probs = make([]float64, h*spec.Discrete)
	} else {
		p.mean, p.std = make([]float64, h*spec.Dim), make([]float64, h*spec.Dim)
		p.priorMean, p.priorStd, p.minStd = make([]float64, spec.Dim), make([]float64, spec.Dim), make([]float64, spec.Dim)
		for d := range spec.Dim {
			half := (spec.High[d] - spec.Low[d]) / 2
			p.priorMean[d] = spec.Low[d] + half
			p.priorStd[d] = cfg.InitStd * half
			p.minStd[d] = cfg.MinStd * half
		}
	}
	p.Reset()
	return p, nil
}

// Config returns the planner's configuration with defaults filled in.
func (p *MPC) Config() Config { return p.cfg }

// SetFirstBonus makes the following decisions add bonus[a] to the
// aggregated score of every candidate whose first action is a: a
// preference over the next action that is not part of the model's
// return, such as an exploration value. bonus has one entry per action of
// the discrete space; the planner keeps the slice (no copy), so the
// caller may update it in place between decisions. nil removes it. It
// panics for a box.
func (p *MPC) SetFirstBonus(bonus []float64) {
	if bonus != nil && (p.spec.Discrete == 0 || len(bonus) != p.spec.Discrete) {
		panic(fmt.Sprintf("planner: SetFirstBonus with %d values for %d discrete actions", len(bonus), p.spec.Discrete))
	}
	p.bonus = bonus
}

// Reset forgets the warm start: every step's distribution returns to the
// prior (the box's midpoint with std InitStd·half range, or the uniform
// categorical). Call it at the start of an episode.
func (p *MPC) Reset() {
	for h := range p.cfg.Horizon {
		p.resetStep(h)
	}
}

func (p *MPC) resetStep(h int) {
	if p.spec.Discrete > 0 {
		n := p.spec.Discrete
		for a := range n {
			p.probs[h*n+a] = 1 / float64(n)
		}
		return
	}
	d := p.spec.Dim
	copy(p.mean[h*d:(h+1)*d], p.priorMean)
	copy(p.std[h*d:(h+1)*d], p.priorStd)
}

// Plan returns the action to take from latent z (length LatentDim). With
// the Rollout method it is the first action whose K futures score best
// (see planRollout). Otherwise it is the refitted mean at step 0 for a
// box (within its bounds, as every candidate is clipped to them), or for
// a discrete space a one-element vector holding the index with the
// largest refitted probability at step 0. The slice is owned by the
// planner and valid until the next call. Exploration noise, if any, is
// the caller's.
//
// After choosing, the distribution is shifted by one step for the next
// decision: step h takes step h+1's parameters and the last step returns
// to the prior. For a box the std of every step returns to the prior, as
// in TD-MPC2 and PETS; a categorical, which has no separate spread, is
// instead mixed half and half with the uniform distribution.
//
// With RecordOutcomes on, Outcomes then returns the sample of returns
// behind each first action's score, as the risk measure saw it.
func (p *MPC) Plan(z []float32, rng *rand.Rand) []float64 {
	if len(z) != p.latent {
		panic(fmt.Sprintf("planner: Plan with a latent of length %d, model has %d", len(z), p.latent))
	}
	if p.cn != nil {
		p.scenSeed = rng.Uint64()
	}
	if p.ro != nil {
		p.planRollout(z, rng)
		p.recordOutcomes()
		return p.action
	}
	for range p.cfg.Iterations {
		p.draw(rng)
		p.evaluate(z, rng)
		p.refit()
	}
	h, w := p.cfg.Horizon, p.width
	if p.spec.Discrete > 0 {
		n := p.spec.Discrete
		for s := range h {
			best := 0
			for a := 1; a < n; a++ {
				if p.probs[s*n+a] > p.probs[s*n+best] {
					best = a
				}
			}
			p.plan[s] = float64(best)
		}
	} else {
		copy(p.plan, p.mean)
	}
	copy(p.action, p.plan[:w])
	p.recordOutcomes()
	p.shift()
	return p.action
}

// Sequence returns the action sequence chosen by the last Plan, H×width
// (one index per step for a discrete space: the most probable action; the
// mean for a box), owned by the planner and valid until the next call.
func (p *MPC) Sequence() []float64 { return p.plan }

// Score returns the score of the last plan: the mean aggregated score of
// the elites of the last iteration for CEM, the weighted mean of all
// candidates' scores for MPPI.
func (p *MPC) Score() float64 { return p.score }

// sequences returns the number n^h of the sequences of h actions of a
// discrete space of n actions, and whether they are few enough (at most
// candidates) to be scored one by one: CEM and MPPI then score every
// sequence once, in one iteration, instead of sampling candidates
// (FrozenLake's 4 actions at H = 3 make 64 sequences, CartPole's 2 make
// 8). Each sequence is scored on K·⌊N/n^h⌋ sampled futures, the rows of
// the candidates it replaces, and CEM refits to the same share of them as
// of N candidates (max(1, ⌊E·n^h/N⌋) elites), so that the search is exact
// and a decision costs one sampled iteration's rows. New applies it from
// H = 2 on: at H = 1 nothing is imagined, and the sampled search's refits
// already settle on the first action of the best q.
func sequences(n, h, candidates int) (int, bool) {
	if n < 1 {
		return 0, false
	}
	seqs := 1
	for range h {
		seqs *= n
		if seqs > candidates {
			return 0, false
		}
	}
	return seqs, true
}

// enumerate writes every sequence of the discrete space into the
// candidates, step 0 varying slowest (the exact search; see sequences).
func (p *MPC) enumerate() {
	n, h, k := p.cfg.Candidates, p.cfg.Horizon, p.spec.Discrete
	for i := range n {
		c := i
		for s := h - 1; s >= 0; s-- {
			p.cand[i*h+s] = float64(c % k)
			c /= k
		}
	}
}

// draw samples N candidate sequences from the current distribution; the
// exact search keeps the sequences New enumerated.
func (p *MPC) draw(rng *rand.Rand) {
	if p.exhaustive {
		return
	}
	n, h := p.cfg.Candidates, p.cfg.Horizon
	if k := p.spec.Discrete; k > 0 {
		for i := range n {
			for s := range h {
				u, a := rng.Float64(), 0
				for ; a < k-1; a++ {
					u -= p.probs[s*k+a]
					if u < 0 {
						break
					}
				}
				p.cand[i*h+s] = float64(a)
			}
		}
		return
	}
	d := p.spec.Dim
	for i := range n {
		c := p.cand[i*h*d : (i+1)*h*d]
		for j := range c {
			v := p.mean[j] + p.std[j]*rng.NormFloat64()
			c[j] = min(max(v, p.spec.Low[j%d]), p.spec.High[j%d])
		}
	}
}

// evaluate rolls every candidate out K times from z0 in one batch of N·K
// rows per step and stores the aggregated scores: of the K futures'
// returns, or of their K·M atoms when the planner reads quantiles (see
// the package documentation for both formulas).
func (p *MPC) evaluate(z0 []float32, rng *rand.Rand) {
	n, h, k, l, mw := p.cfg.Candidates, p.cfg.Horizon, p.cfg.Samples, p.latent, p.modelWidth
	rows, groups, stride := p.rows, n, 1
	tree := p.tree()
	if tree {
		// One group of K futures, the empty prefix, branching at every step.
		rows, groups, stride = k, 1, n
	}
	for r := range rows {
		copy(p.z[r*l:(r+1)*l], z0)
		p.ret[r], p.disc[r] = 0, 1
	}
	clear(p.acc)
	p.scenarios()
	blend := p.blends()
	weight := 1 - p.cfg.Lambda // of G⁽ˢ⁺¹⁾
	g := 1.0
	for s := range h {
		last := s == h-1
		if tree {
			p.branch(rows)
			rows, groups, stride = rows*p.spec.Discrete, groups*p.spec.Discrete, stride/p.spec.Discrete
		}
		// Group i's rows take the actions of candidate i·stride: itself,
		// or in the tree the first candidate of its prefix.
		for i := range groups {
			c := i * stride
			row := p.act[i*k*mw : (i*k+1)*mw]
			if p.spec.Discrete > 0 {
				clear(row)
				row[int(p.cand[c*h+s])] = 1
			} else {
				for d := range mw {
					row[d] = float32(p.cand[(c*h+s)*mw+d])
				}
			}
			for j := 1; j < k; j++ {
				copy(p.act[(i*k+j)*mw:(i*k+j+1)*mw], row)
			}
		}
		if blend && !last {
			p.actionValue(rows)
			p.accumulate(weight, g, rows)
			weight *= p.cfg.Lambda
		}
		if last && p.q != nil {
			p.actionValue(rows)
			p.finish(g)
			return
		}
		p.step(rows, rng)
		for r := range rows {
			p.ret[r] += g * p.disc[r] * float64(p.rew[r])
			p.disc[r] *= float64(p.cont[r])
		}
		g *= p.cfg.Discount
		p.z, p.next = p.next, p.z
	}
	p.model.Value(p.val, p.z, p.rows)
	p.finish(g)
}

// tree reports whether evaluate rolls the exact search out as a tree of
// prefixes: with common scenarios the sequences that share their first s
// actions share their first s imagined steps (row c·K + k of every
// candidate draws as row k), so step s needs only the n^(s+1) prefixes'
// K futures each, not every sequence's. At H = 3 over 4 actions the
// model then steps 16 and 64 rows instead of 256 and 256, with the same
// scores. Independent noise keeps every sequence's own draws.
func (p *MPC) tree() bool {
	return p.exhaustive && p.cn != nil && !p.flat
}

// branch extends each of the rows/K prefixes of the tree (rows p·K + k,
// in p.z, p.ret, p.disc and p.acc) to its n children, prefix p's child a
// taking rows (p·n + a)·K + k, as the enumeration orders the sequences
// (step 0 varying slowest). It copies from the last prefix down, so that
// no prefix is overwritten before it is copied.
func (p *MPC) branch(rows int) {
	n, k, l, w := p.spec.Discrete, p.cfg.Samples, p.latent, max(p.nq, 1)
	for par := rows/k - 1; par >= 0; par-- {
		for a := n - 1; a >= 0; a-- {
			c := par*n + a
			if c == par {
				continue
			}
			copy(p.z[c*k*l:(c+1)*k*l], p.z[par*k*l:(par+1)*k*l])
			copy(p.ret[c*k:(c+1)*k], p.ret[par*k:(par+1)*k])
			copy(p.disc[c*k:(c+1)*k], p.disc[par*k:(par+1)*k])
			copy(p.acc[c*k*w:(c+1)*k*w], p.acc[par*k*w:(par+1)*k*w])
		}
	}
}

// scenarios restarts the draws of the decision's scenarios (Config.Noise
// "common"): every evaluation of a decision then samples the same ones.
func (p *MPC) scenarios() {
	if p.cn != nil {
		p.scenSrc.Seed(p.scenSeed, 0)
	}
}

// step advances the first rows rows one imagined step: sampled with
// independent noise from rng, or with the decision's common scenarios,
// future k of each candidate (row c·K + k) drawing as the others' k do.
func (p *MPC) step(rows int, rng *rand.Rand) {
	if p.cn != nil {
		p.cn.StepCommon(p.next, p.rew, p.cont, p.z, p.act, rows, p.cfg.Samples, p.scen)
		return
	}
	p.model.Step(p.next, p.rew, p.cont, p.z, p.act, rows, p.sample, rng)
}

// blends reports whether scores are TD(λ) returns: Lambda < 1, H > 1 and
// an action value to bootstrap every h-step return with.
func (p *MPC) blends() bool {
	return p.cfg.Lambda < 1 && p.cfg.Horizon > 1 && p.q != nil
}

// actionValue reads the action value of the first rows rows at (p.z,
// p.act): q into p.val, or its quantiles into p.qt when the planner reads
// them.
func (p *MPC) actionValue(rows int) {
	if p.qv != nil {
		p.qv.ActionValueQuantiles(p.qt, p.z, p.act, rows)
		return
	}
	p.q.ActionValue(p.val, p.z, p.act, rows)
}

// accumulate adds weight times the h-step returns that bootstrap, after
// the discount g, with the action value just read (actionValue) to the
// first rows rows' λ-weighted sums: one per row, or one per atom of a row
// with quantiles, atom j bootstrapping with quantile j.
func (p *MPC) accumulate(weight, g float64, rows int) {
	if p.qv == nil {
		for r := range rows {
			p.acc[r] += weight * (p.ret[r] + g*p.disc[r]*float64(p.val[r]))
		}
		return
	}
	m := p.nq
	for r := range rows {
		base, c := p.ret[r], g*p.disc[r]
		for j, v := range p.qt[r*m : (r+1)*m] {
			p.acc[r*m+j] += weight * (base + c*float64(v))
		}
	}
}

// outcomes adds the terminal values just read (p.val, or the quantiles in
// p.qt), discounted by g and the continuation, to the returns of the
// first rows rows, blends them with the shorter returns for Lambda < 1,
// and returns each row's outcomes, per row of width w: its return
// (w = 1, in p.ret) or its M atoms (w = M, in p.atoms). NaN becomes −Inf.
func (p *MPC) outcomes(g float64, rows int) (out []float64, w int) {
	blend, last := p.blends(), math.Pow(p.cfg.Lambda, float64(p.cfg.Horizon-1))
	out, w = p.ret, 1
	if p.qv != nil {
		out, w = p.atoms, p.nq
	}
	for r := range rows {
		base, c := p.ret[r], g*p.disc[r]
		for j := range w {
			var v float64
			if p.qv != nil {
				v = base + c*float64(p.qt[r*w+j])
			} else {
				v = base + c*float64(p.val[r])
			}
			if blend {
				v = p.acc[r*w+j] + last*v
			}
			if math.IsNaN(v) {
				v = math.Inf(-1)
			}
			out[r*w+j] = v
		}
	}
	return out, w
}

// finish adds the terminal values to the returns and aggregates each
// candidate's K scores (K·M atoms with quantiles).
func (p *MPC) finish(g float64) {
	n, k := p.cfg.Candidates, p.cfg.Samples
	out, w := p.outcomes(g, p.rows)
	for i := range n {
		p.scores[i] = p.cfg.Risk.Aggregate(out[i*k*w : (i+1)*k*w])
		if p.bonus != nil {
			p.scores[i] += p.bonus[int(p.cand[i*p.cfg.Horizon])]
		}
	}
}

// refit moves the distribution towards the good candidates: CEM gives the
// elites weight 1 and the others 0; MPPI weighs every candidate by
// exp((score − max)/T). The new parameters are the weighted mean and
// standard deviation (box) or frequencies (categorical), blended with the
// old ones by Momentum.
func (p *MPC) refit() {
	n := p.cfg.Candidates
	for i := range n {
		p.order.idx[i] = i
	}
	sort.Sort(&p.order)
	clear(p.weight)
	total, score := 0.0, 0.0
	if p.cfg.Method == CEM {
		for _, i := range p.order.idx[:p.cfg.Elites] {
			p.weight[i] = 1
		}
	} else {
		best := p.scores[p.order.idx[0]]
		for i, s := range p.scores {
			switch {
			case math.IsInf(best, -1):
				p.weight[i] = 1 // nothing to prefer
			case !math.IsInf(s, -1):
				p.weight[i] = math.Exp((s - best) / p.cfg.Temperature)
			}
		}
	}
	for i, w := range p.weight {
		if w > 0 {
			total += w
			score += w * p.scores[i]
		}
	}
	p.score = score / total
	m := p.cfg.Momentum
	h := p.cfg.Horizon
	if k := p.spec.Discrete; k > 0 {
		clear(p.fit)
		for i, w := range p.weight {
			if w > 0 {
				for s := range h {
					p.fit[s*k+int(p.cand[i*h+s])] += w
				}
			}
		}
		eps := p.cfg.Smoothing
		for j, f := range p.fit {
			p.probs[j] = m*p.probs[j] + (1-m)*((1-eps)*f/total+eps/float64(k))
		}
		return
	}
	d := p.spec.Dim
	clear(p.fit)
	for i, w := range p.weight {
		if w > 0 {
			for j, a := range p.cand[i*h*d : (i+1)*h*d] {
				p.fit[j] += w * a
			}
		}
	}
	for j := range p.fit {
		p.fit[j] /= total
	}
	for j := range p.mean {
		v := 0.0
		for i, w := range p.weight {
			if w > 0 {
				e := p.cand[i*h*d+j] - p.fit[j]
				v += w * e * e
			}
		}
		std := math.Sqrt(v / total)
		p.mean[j] = m*p.mean[j] + (1-m)*p.fit[j]
		p.std[j] = max(m*p.std[j]+(1-m)*std, p.minStd[j%d])
	}
}

// shift prepares the warm start of the next decision (see Plan).
func (p *MPC) shift() {
	h := p.cfg.Horizon
	if k := p.spec.Discrete; k > 0 {
		copy(p.probs, p.probs[k:])
		for j := range p.probs[:(h-1)*k] {
			p.probs[j] = 0.5*p.probs[j] + 0.5/float64(k)
		}
		p.resetStep(h - 1)
		return
	}
	d := p.spec.Dim
	copy(p.mean, p.mean[d:])
	for s := range h {
		copy(p.std[s*d:(s+1)*d], p.priorStd)
	}
	p.resetStep(h - 1)
}
