package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/worldmodel"
)

// Model is what the score reads of a world model: the planner's verbs.
// Step advances rows latents (rows×LatentDim) under rows actions
// (rows×ActionDim, one-hot for discrete actions) and writes the next
// latents and the probability of continuing ĉ(z, a) (reward may be nil);
// with sample true each row is a draw from the predicted distribution.
// Value writes the learned value V(z) of rows latents.
type Model interface {
	LatentDim() int
	ActionDim() int
	Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand)
	Value(dst, z []float32, rows int)
}

var _ Model = (*worldmodel.Model)(nil)

// Termination chooses when an imagined rollout ends. An ended rollout
// keeps the cell it ended on for the remaining steps, as an episode that
// entered a hole or the goal stays there in the true process.
type Termination string

const (
	// TermSample ends a live rollout after step t with probability
	// 1 − ĉ(ẑ_{t−1}, a_t), one Bernoulli draw per rollout and step. In
	// expectation this is how the planner weighs a future (it multiplies
	// the rewards and value after step t by Π ĉ), so the imagined
	// distribution is the one the planner's score averages over.
	TermSample Termination = "sample"
	// TermThreshold ends a live rollout after step t when
	// ĉ(ẑ_{t−1}, a_t) < ½.
	TermThreshold Termination = "threshold"
	// TermCell ends a live rollout when its latent maps to a terminal
	// cell, ignoring the continuation head: the score then measures the
	// dynamics alone, read through the true map's terminal tiles.
	TermCell Termination = "cell"
)

// parseTermination checks a --termination value.
func parseTermination(s string) (Termination, error) {
	switch t := Termination(s); t {
	case TermSample, TermThreshold, TermCell:
		return t, nil
	}
	return "", fmt.Errorf("termination %q (allowed: sample, threshold, cell)", s)
}

// Grid holds what the gridworld score compares a model against: the
// cells an episode can reach from the start tile, their true transitions,
// their optimal values and the latents f_θ(o_c) of their observations.
// A cell is named by its position: its index among the reachable cells
// in row-major order.
type Grid struct {
	rows, cols int
	cells      []int // row-major index of each reachable cell, ascending
	pos        []int // row-major index → position in cells, −1 if not reachable
	terminal   []bool
	starts     []int            // positions of the non-terminal cells
	table      [][][]transition // [position][action] → the step's outcomes
	latents    []float32        // len(cells)×d, the latent z_c of cell c at row c
	optimal    []float64        // V*(c), 0 on terminal cells
	spacing    float64          // mean over cells of the distance to the nearest other cell's latent
	d, actions int
}

// transition is one outcome of a step, as a cell position.
type transition struct {
	to   int
	prob float64
}

// NewGrid collects the cells reachable from env's start tile under any
// actions (by the true transitions, gridworld's Transitions), encodes each
// with encode (which writes the d-dimensional latent of the agent standing
// on (row, col)), and keeps the optimal values, given row-major as
// gridworld.OptimalValues returns them.
func NewGrid(env *gridworld.Env, d int, encode func(z []float32, row, col int), optimal []float64) *Grid {
	mp := env.Map()
	n := mp.Rows * mp.Cols
	if len(optimal) != n {
		panic(fmt.Sprintf("fidelity: NewGrid with %d optimal values for %d cells", len(optimal), n))
	}
	const actions = 4 // gridworld's Discrete(4)
	g := &Grid{rows: mp.Rows, cols: mp.Cols, pos: make([]int, n), d: d, actions: actions}
	seen := make([]bool, n)
	queue := []int{mp.StartRow*mp.Cols + mp.StartCol}
	seen[queue[0]] = true
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for a := range actions {
			for _, o := range env.Transitions(c/mp.Cols, c%mp.Cols, a) {
				if to := o.Row*mp.Cols + o.Col; !seen[to] {
					seen[to] = true
					queue = append(queue, to)
				}
			}
		}
	}
	for c := range n {
		g.pos[c] = -1
		if seen[c] {
			g.pos[c] = len(g.cells)
			g.cells = append(g.cells, c)
		}
	}
	g.latents = make([]float32, len(g.cells)*d)
	g.terminal = make([]bool, len(g.cells))
	g.optimal = make([]float64, len(g.cells))
	g.table = make([][][]transition, len(g.cells))
	for i, c := range g.cells {
		row, col := c/mp.Cols, c%mp.Cols
		encode(g.latents[i*d:(i+1)*d], row, col)
		g.terminal[i] = mp.At(row, col).Terminal()
		if !g.terminal[i] {
			g.starts = append(g.starts, i)
			g.optimal[i] = optimal[c]
		}
		g.table[i] = make([][]transition, actions)
		for a := range actions {
			for _, o := range env.Transitions(row, col, a) {
				g.table[i][a] = append(g.table[i][a], transition{g.pos[o.Row*mp.Cols+o.Col], o.Prob})
			}
		}
	}
	for i := range g.cells {
		nearest := math.Inf(1)
		for j := range g.cells {
			if j != i {
				nearest = min(nearest, g.dist2(g.Latent(i), j))
			}
		}
		if !math.IsInf(nearest, 1) {
			g.spacing += math.Sqrt(nearest) / float64(len(g.cells))
		}
	}
	return g
}

// Cells is the number of reachable cells.
func (g *Grid) Cells() int { return len(g.cells) }

// Cell returns the row and column of the cell at position i.
func (g *Grid) Cell(i int) (row, col int) { return g.cells[i] / g.cols, g.cells[i] % g.cols }

// Position returns the position of (row, col) among the reachable cells,
// or −1.
func (g *Grid) Position(row, col int) int { return g.pos[row*g.cols+col] }

// Starts returns the positions of the reachable non-terminal cells, the
// start cells of the score.
func (g *Grid) Starts() []int { return g.starts }

// Latent returns the latent z_c of the cell at position c (owned by g).
func (g *Grid) Latent(c int) []float32 { return g.latents[c*g.d : (c+1)*g.d] }

// Nearest returns the position of the cell whose latent lies nearest z in
// Euclidean distance, terminal cells included:
//
//	κ(z) = argmin_c ‖z − z_c‖²
//
// where c ranges over the reachable cells and z_c is the latent of c's
// observation; ties go to the lower position.
func (g *Grid) Nearest(z []float32) int {
	c, _ := g.nearest(z)
	return c
}

// nearest returns Nearest(z) and the squared distance to its latent.
func (g *Grid) nearest(z []float32) (int, float64) {
	best, bd := 0, math.Inf(1)
	for c := range g.cells {
		if s := g.dist2(z, c); s < bd {
			best, bd = c, s
		}
	}
	return best, bd
}

// dist2 is ‖z − z_c‖².
func (g *Grid) dist2(z []float32, c int) float64 {
	d := g.d
	zc := g.latents[c*d : (c+1)*d : (c+1)*d]
	s := 0.0
	for j, v := range z[:d] {
		e := float64(v - zc[j])
		s += e * e
	}
	return s
}

// Spacing is the mean distance from a cell's latent to the nearest other
// cell's latent, the scale of Imagined.Gap.
func (g *Grid) Spacing() float64 { return g.spacing }

// TrueDistribution writes into dst (one entry per cell) the distribution
// of the cell after the actions from the cell at position start, by the
// map's true transitions p(c' | c, a):
//
//	p_0 = δ_start,   p_t(c') = Σ_c p_{t−1}(c) · p(c' | c, a_t),   t = 1 … h
//
// Terminal cells absorb (p(c | c, a) = 1), so an episode that ended stays
// on its last cell. It returns dst; nil means allocate.
func (g *Grid) TrueDistribution(dst []float64, start int, actions []int) []float64 {
	n := len(g.cells)
	if dst == nil {
		dst = make([]float64, n)
	}
	cur, next := dst, make([]float64, n)
	clear(cur)
	cur[start] = 1
	for _, a := range actions {
		clear(next)
		for c, p := range cur {
			if p == 0 {
				continue
			}
			for _, o := range g.table[c][a] {
				next[o.to] += p * o.prob
			}
		}
		cur, next = next, cur
	}
	if &cur[0] != &dst[0] {
		copy(dst, cur)
	}
	return dst
}

// TV returns the total-variation distance between two distributions over
// the same cells:
//
//	TV(p, q) = ½ Σ_c |p(c) − q(c)|
func TV(p, q []float64) float64 {
	s := 0.0
	for c, v := range p {
		s += math.Abs(v - q[c])
	}
	return s / 2
}

// ExpectedTV returns the expected total-variation distance between p and
// the empirical distribution of k independent draws from p, the score a
// perfect sampler gets from finite k:
//
//	E[TV] = (1/2k) Σ_c E|X_c − k p_c|,   X_c ~ Binomial(k, p_c)
//
// with the binomial's mean absolute deviation in de Moivre's closed form,
// m = ⌊k p⌋:
//
//	E|X − k p| = 2 (m+1) C(k, m+1) p^{m+1} (1−p)^{k−m}
func ExpectedTV(p []float64, k int) float64 {
	s := 0.0
	for _, pc := range p {
		s += binomialMAD(k, pc)
	}
	return s / (2 * float64(k))
}

// binomialMAD is E|X − k p| for X ~ Binomial(k, p) (de Moivre).
func binomialMAD(k int, p float64) float64 {
	if p <= 0 || p >= 1 {
		return 0
	}
	m := int(math.Floor(float64(k) * p))
	if m >= k {
		return 0
	}
	lk, _ := math.Lgamma(float64(k + 1))
	lm, _ := math.Lgamma(float64(m + 2))
	lr, _ := math.Lgamma(float64(k - m))
	logC := lk - lm - lr // log C(k, m+1)
	return 2 * float64(m+1) * math.Exp(logC+float64(m+1)*math.Log(p)+float64(k-m)*math.Log1p(-p))
}

// Imaginer rolls a model's futures on a Grid and reads them as cells. It
// holds the scratch buffers of its rollouts and is not safe for
// concurrent use.
type Imaginer struct {
	g    *Grid
	m    Model
	k    int
	term Termination

	z, next, act, cont, v []float32
	cell, live            []int
	gap                   []float64
}

// NewImaginer returns an Imaginer of k rollouts per start, ending them as
// term says. The model's latents must be as wide as the grid's.
func NewImaginer(g *Grid, m Model, k int, term Termination) *Imaginer {
	if m.LatentDim() != g.d {
		panic(fmt.Sprintf("fidelity: model latent %d, grid latent %d", m.LatentDim(), g.d))
	}
	if k < 1 {
		panic(fmt.Sprintf("fidelity: %d rollouts", k))
	}
	d, A := g.d, m.ActionDim()
	return &Imaginer{g: g, m: m, k: k, term: term,
		z: make([]float32, k*d), next: make([]float32, k*d), act: make([]float32, k*A),
		cont: make([]float32, k), v: make([]float32, k), cell: make([]int, k), live: make([]int, 0, k), gap: make([]float64, k)}
}

// Imagine rolls k futures of the actions from the real latent of the cell
// at position start, each step a draw ẑ_t ~ model(· | ẑ_{t−1}, a_t) with
// ẑ_0 = z_start, and writes into dst the imagined distribution of the
// cell after the last action,
//
//	q(c) = (1/k) Σ_k 1[c_h^k = c],   c_t^k = κ(ẑ_t^k) while rollout k lives
//
// (κ is Nearest); a rollout that ends at step t (see Termination) keeps
// c_t^k. It returns dst (nil means allocate) and what else it saw.
func (im *Imaginer) Imagine(dst []float64, start int, actions []int, rng *rand.Rand) ([]float64, Imagined) {
	g, m, K, d, A := im.g, im.m, im.k, im.g.d, im.m.ActionDim()
	if dst == nil {
		dst = make([]float64, len(g.cells))
	}
	cell, live, gap := im.cell[:K], im.live[:0], im.gap[:K]
	z := im.z[:K*d]
	zs := g.Latent(start)
	for k := range K {
		cell[k], gap[k] = start, 0
		live = append(live, k)
		copy(z[k*d:], zs)
	}
	for _, a := range actions {
		n := len(live)
		if n == 0 {
			break
		}
		act := im.act[:n*A]
		clear(act)
		for i := range n {
			act[i*A+a] = 1
		}
		next, cont := im.next[:n*d], im.cont[:n]
		m.Step(next, nil, cont, z[:n*d], act, n, true, rng)
		w := 0
		for i, k := range live {
			zi := next[i*d : (i+1)*d]
			c, d2 := g.nearest(zi)
			cell[k], gap[k] = c, math.Sqrt(d2)
			if im.ended(c, cont[i], rng) {
				continue
			}
			copy(z[w*d:(w+1)*d], zi)
			live[w] = k
			w++
		}
		live = live[:w]
	}
	clear(dst)
	var out Imagined
	for k, c := range cell {
		dst[c] += 1 / float64(K)
		out.Gap += gap[k] / float64(K)
	}
	if n := len(live); n > 0 {
		v := im.v[:n]
		m.Value(v, z[:n*d], n)
		for _, x := range v {
			out.Value += float64(x) / float64(K)
		}
	}
	if g.spacing > 0 {
		out.Gap /= g.spacing
	}
	return dst, out
}

// Imagined is what Imagine saw besides the distribution q.
type Imagined struct {
	// Value is the mean imagined value
	//
	//	V̄ = (1/k) Σ_k 1[rollout k lives after step h] · V(ẑ_h^k)
	//
	// which counts an ended rollout as 0, as the planner does and as the
	// optimal value counts a terminal cell.
	Value float64
	// Gap is the mean distance from each rollout's last latent (at step h,
	// or where it ended) to its nearest real latent, over the grid's
	// Spacing: 0 when the imagined latents sit on real ones, about ½
	// halfway between two cells.
	Gap float64
}

// ended reports whether a rollout that stepped onto cell c with
// continuation probability cont ends there.
func (im *Imaginer) ended(c int, cont float32, rng *rand.Rand) bool {
	switch im.term {
	case TermThreshold:
		return cont < 0.5
	case TermCell:
		return im.g.terminal[c]
	}
	return rng.Float64() >= float64(cont)
}

// Options are the settings of a gridworld score. The zero value of a
// field means the default in its comment.
type Options struct {
	// Horizon is the last number of steps ahead scored, h = 1 … Horizon.
	// Default 5.
	Horizon int
	// Samples is the number K of imagined rollouts per start and action
	// sequence. Default 256.
	Samples int
	// Sequences is the number N of action sequences per start cell and
	// horizon: all A^h of them when A^h ≤ N, else N drawn uniformly with
	// replacement. Default 64.
	Sequences int
	// Termination says when an imagined rollout ends. Default TermSample.
	Termination Termination
}

func (o Options) withDefaults() Options {
	if o.Horizon == 0 {
		o.Horizon = 5
	}
	if o.Samples == 0 {
		o.Samples = 256
	}
	if o.Sequences == 0 {
		o.Sequences = 64
	}
	if o.Termination == "" {
		o.Termination = TermSample
	}
	return o
}

// Group is the mean score of a subset of the (start, sequence) pairs.
type Group struct {
	// Pairs is the number of pairs in the subset.
	Pairs int `json:"pairs"`
	// TV is their mean total-variation distance.
	TV float64 `json:"tv"`
	// Floor is their mean ExpectedTV: what a perfect sampler would get.
	Floor float64 `json:"tv_floor"`
}

// GridScore is the score of the futures h steps ahead, over all start
// cells and their action sequences (pairs).
type GridScore struct {
	// H is the number of steps ahead.
	H int `json:"h"`
	// Pairs is the number of (start cell, action sequence) pairs scored.
	Pairs int `json:"pairs"`
	// TV is the mean over pairs of TV(p_true, q_imagined), and TVSE its
	// standard error, sd/√Pairs (pairs that share a start are treated as
	// independent).
	TV   float64 `json:"tv"`
	TVSE float64 `json:"tv_se"`
	// Floor is the mean ExpectedTV(p_true, K): the TV a model that samples
	// the true distribution would get from K rollouts.
	Floor float64 `json:"tv_floor"`
	// ByOutcomes splits the pairs by the number of cells their true
	// distribution puts positive probability on: ByOutcomes[0] holds the
	// pairs with one (at h = 1, moves without slip or wind noise),
	// ByOutcomes[1] those with two and ByOutcomes[2] those with three or
	// more (on FrozenLake at h = 1: a slippery move whose three
	// directions lead to three distinct cells).
	ByOutcomes [3]Group `json:"by_outcomes"`
	// ValueError is the mean over pairs of |E_true[V*(c_h)] − V̄|, V̄ the
	// mean imagined value (Imaginer.Imagine), and ValueErrorSE its
	// standard error. ValueBias is the mean of V̄ − E_true[V*(c_h)].
	ValueError   float64 `json:"value_error"`
	ValueErrorSE float64 `json:"value_error_se"`
	ValueBias    float64 `json:"value_bias"`
	// ValueErrorReal is the mean over pairs of
	// |E_true[V*(c_h)] − E_true[V(z_{c_h})]| (terminal cells counting 0):
	// the error of the learned value alone, had the dynamics been exact.
	ValueErrorReal float64 `json:"value_error_real"`
	// Gap is the mean over pairs of Imagined.Gap: how far off the real
	// latents the imagined ones lie, in units of the cells' spacing.
	Gap float64 `json:"gap"`
}

// Plan is the list of action sequences a score rolls: Plan[h−1][i] holds
// the start position and the h actions of pair i.
type Plan [][]Pair

// Pair is one start cell (a position) and an action sequence.
type Pair struct {
	Start   int
	Actions []int
}

// MakePlan lists the pairs of every horizon h = 1 … opts.Horizon: each
// start cell with every sequence of h actions when there are at most
// opts.Sequences of them, else with opts.Sequences sequences drawn
// uniformly from rng.
func (g *Grid) MakePlan(opts Options, rng *rand.Rand) Plan {
	opts = opts.withDefaults()
	plan := make(Plan, opts.Horizon)
	for h := 1; h <= opts.Horizon; h++ {
		all := 1
		for range h {
			all *= g.actions
			if all > opts.Sequences {
				break
			}
		}
		for _, s := range g.starts {
			if all <= opts.Sequences {
				for i := range all {
					seq := make([]int, h)
					for t, x := h-1, i; t >= 0; t, x = t-1, x/g.actions {
						seq[t] = x % g.actions
					}
					plan[h-1] = append(plan[h-1], Pair{s, seq})
				}
				continue
			}
			for range opts.Sequences {
				seq := make([]int, h)
				for t := range seq {
					seq[t] = rng.IntN(g.actions)
				}
				plan[h-1] = append(plan[h-1], Pair{s, seq})
			}
		}
	}
	return plan
}

// Score scores the model's imagined futures against the true ones for
// h = 1 … opts.Horizon. It draws the plan (MakePlan) from rng before any
// rollout, so that runs scored with the same seed see the same action
// sequences, then rolls the futures with rng.
func (g *Grid) Score(m Model, opts Options, rng *rand.Rand) []GridScore {
	opts = opts.withDefaults()
	plan := g.MakePlan(opts, rng)
	im := NewImaginer(g, m, opts.Samples, opts.Termination)
	// The learned value at each real cell, 0 at terminal cells.
	learned := make([]float32, len(g.cells))
	m.Value(learned, g.latents, len(g.cells))
	for c, t := range g.terminal {
		if t {
			learned[c] = 0
		}
	}
	p := make([]float64, len(g.cells))
	q := make([]float64, len(g.cells))
	out := make([]GridScore, len(plan))
	for hi, pairs := range plan {
		s := GridScore{H: hi + 1, Pairs: len(pairs)}
		var tv, ve, gap stats
		var groups [3]stats
		var floors [3]float64
		realErr, bias := 0.0, 0.0
		for _, pr := range pairs {
			g.TrueDistribution(p, pr.Start, pr.Actions)
			_, seen := im.Imagine(q, pr.Start, pr.Actions, rng)
			vbar := seen.Value
			gap.add(seen.Gap)
			d := TV(p, q)
			f := ExpectedTV(p, opts.Samples)
			tv.add(d)
			s.Floor += f
			support := 0
			vstar, vreal := 0.0, 0.0
			for c, pc := range p {
				if pc > 0 {
					support++
				}
				vstar += pc * g.optimal[c]
				vreal += pc * float64(learned[c])
			}
			i := min(support, len(groups)) - 1
			groups[i].add(d)
			floors[i] += f
			ve.add(math.Abs(vbar - vstar))
			bias += vbar - vstar
			realErr += math.Abs(vreal - vstar)
		}
		n := float64(len(pairs))
		s.TV, s.TVSE = tv.mean(), tv.se()
		s.Floor /= n
		for i, gr := range groups {
			s.ByOutcomes[i] = Group{gr.n, gr.mean(), floors[i] / math.Max(float64(gr.n), 1)}
		}
		s.ValueError, s.ValueErrorSE = ve.mean(), ve.se()
		s.ValueBias = bias / n
		s.ValueErrorReal = realErr / n
		s.Gap = gap.mean()
		out[hi] = s
	}
	return out
}

// stats accumulates a mean and a standard error.
type stats struct {
	n       int
	sum, ss float64
}

func (s *stats) add(x float64) { s.n++; s.sum += x; s.ss += x * x }

func (s *stats) mean() float64 {
	if s.n == 0 {
		return 0
	}
	return s.sum / float64(s.n)
}

// se is the standard error of the mean, sd/√n with the n−1 variance.
func (s *stats) se() float64 {
	if s.n < 2 {
		return 0
	}
	n := float64(s.n)
	v := (s.ss - s.sum*s.sum/n) / (n - 1)
	return math.Sqrt(max(v, 0) / n)
}
