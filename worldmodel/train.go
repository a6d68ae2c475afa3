package worldmodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/worldmodel/loss"
)

// ErrNonFinite reports a NaN or an infinity in a loss or a gradient; the
// training step that met it changed nothing.
var ErrNonFinite = errors.New("worldmodel: non-finite value")

// ErrBatch reports a batch whose sizes do not fit the model.
var ErrBatch = errors.New("worldmodel: bad batch")

// Batch is B sequences of K transitions, stored time-major: row t·B+b of
// Obs is the input of sequence b at time t. For time j = 0 … K−1, action
// Actions[j·B+b] led from Obs row j·B+b to row (j+1)·B+b with reward
// Rewards[j·B+b], and Terminated[j·B+b] = 1 if that step ended the episode
// in a terminal state (0 otherwise). Transitions after a terminal step
// (whatever their rows hold) are left out of every loss.
type Batch struct {
	// B is the number of sequences and K the number of transitions in
	// each (usually Config.Horizon).
	B, K int
	// Obs holds (K+1)·B input rows of InputDim values (see Spec).
	Obs []float32
	// Actions holds K·B rows of ActionDim values, one-hot for discrete
	// actions.
	Actions []float32
	// Rewards and Terminated hold K·B values.
	Rewards    []float32
	Terminated []float32
	// Bonus, when not nil, holds K·B exploration bonuses added to the
	// rewards of the value targets built from replay (the action value's
	// one-step returns and the n-step returns) but not to the reward head's
	// targets: the reward model stays the environment's.
	Bonus []float32
}

// Metrics are the losses and diagnostics of one training step.
type Metrics struct {
	// Total is the world model's loss (everything but the decoder).
	Total float64
	// Prediction is the ρ-weighted multi-step prediction loss (Gaussian
	// NLL, squared error for the deterministic model, the mixture's NLL
	// without its entropy bonus for the mixture).
	Prediction float64
	// Guard is the collapse guard's loss (0 without a guard).
	Guard float64
	// Reward, Cont and Value are the heads' losses; with ValueQ, Value
	// is the sum of the value's and the action value's (and the quantile
	// Huber loss of the distributional action value, with QQuantiles).
	Reward, Cont, Value float64
	// Decoder is the probe decoder's loss.
	Decoder float64
	// EmbedStd is the per-coordinate standard deviation of the online
	// embeddings of the batch, averaged over coordinates; near zero means
	// collapse.
	EmbedStd float64
	// LogVar is the mean predicted log σ² (over every component for the
	// mixture; 0 for the deterministic model).
	LogVar float64
	// GradNorm is the global norm of the world model's gradient before
	// clipping.
	GradNorm float64
	// ValueTarget is the mean value target of the valid rows.
	ValueTarget float64
}

// Names returns the metric names, in the order of Values, as column
// names for a CSV log.
func (Metrics) Names() []string {
	return []string{"total", "prediction", "guard", "reward", "cont", "value", "decoder",
		"embed_std", "log_var", "grad_norm", "value_target"}
}

// Values returns the metrics in the order of Names.
func (x Metrics) Values() []float64 {
	return []float64{x.Total, x.Prediction, x.Guard, x.Reward, x.Cont, x.Value, x.Decoder,
		x.EmbedStd, x.LogVar, x.GradNorm, x.ValueTarget}
}

func (m *Model) checkBatch(b *Batch) error {
	if b == nil {
		return fmt.Errorf("%w: nil batch", ErrBatch)
	}
	if b.B < 1 || b.K < 1 {
		return fmt.Errorf("%w: B %d, K %d (both must be at least 1)", ErrBatch, b.B, b.K)
	}
	check := func(name string, got, want int) error {
		if got != want {
			return fmt.Errorf("%w: %s has %d values, want %d for B %d, K %d", ErrBatch, name, got, want, b.B, b.K)
		}
		return nil
	}
	kb := b.K * b.B
	if err := check("obs", len(b.Obs), (b.K+1)*b.B*m.spec.InputDim()); err != nil {
		return err
	}
	if err := check("actions", len(b.Actions), kb*m.spec.ActionDim); err != nil {
		return err
	}
	if err := check("rewards", len(b.Rewards), kb); err != nil {
		return err
	}
	if err := check("terminated", len(b.Terminated), kb); err != nil {
		return err
	}
	if b.Bonus != nil {
		return check("bonus", len(b.Bonus), kb)
	}
	return nil
}

// TrainStep takes one gradient step on batch b: it computes the loss and
// its gradient in the gorgonia graph, clips the gradient to GradClip by
// global norm, applies Adam, and moves the target encoder and the target
// value network towards the online ones. rng draws the SIGReg directions,
// the sampling noise and the continuous candidate actions of the TD(λ)
// target.
//
// A NaN or infinity in any loss or gradient returns an error wrapping
// ErrNonFinite that names it, and nothing is applied. The graph is built
// on the first step and rebuilt when B or K change.
func (m *Model) TrainStep(b *Batch, rng *rand.Rand) (Metrics, error) {
	return m.trainStep(b, rng, nil)
}

// trainStep is TrainStep, recording the step into tr when it is not nil.
func (m *Model) trainStep(b *Batch, rng *rand.Rand, tr *StepTrace) (Metrics, error) {
	if m.averagedView {
		panic("worldmodel: TrainStep on an Averaged view")
	}
	if err := m.checkBatch(b); err != nil {
		return Metrics{}, err
	}
	if m.tg == nil || m.tg.B != b.B || m.tg.K != b.K {
		m.dropGraph()
		tg, err := m.buildGraph(b.B, b.K)
		if err != nil {
			return Metrics{}, err
		}
		m.tg = tg
	}
	tg := m.tg
	m.updateNorm(b)
	m.standardizeRows(tg.obs, b.Obs, (b.K+1)*b.B)
	m.fillDecoder(tg, b)
	defer tg.reset()
	// The targets from the target encoder run on a goroutine of their own
	// until the graph needs them.
	waitTargets := m.startTargets(tg, b, rng)
	// The decoder's step reads only its inputs and the decoder's weights,
	// which nothing else touches until it is done: it runs on a second
	// goroutine while the graph's inputs are filled and the graph runs.
	decDone := make(chan struct{})
	var decSq float64
	var decBad string
	go func() {
		defer close(decDone)
		tg.dec.run(m.dec)
		decSq, decBad = tg.dec.squares()
	}()
	m.fillGraph(tg, b, rng)
	err := tg.vm.RunAll()
	waitTargets()
	<-decDone
	if err != nil {
		m.norm.undo()
		return Metrics{}, fmt.Errorf("worldmodel: train step: %w", err)
	}
	met := m.readMetrics(tg)
	met.ValueTarget = m.meanValueTarget(tg)
	if err := checkFiniteLosses(met); err != nil {
		m.norm.undo()
		return met, err
	}
	modelSq, bad := gradSquares(tg)
	if bad == "" {
		bad = decBad
	}
	if bad != "" {
		m.norm.undo()
		return met, fmt.Errorf("%w: gradient of %s", ErrNonFinite, bad)
	}
	met.GradNorm = math.Sqrt(modelSq)
	if tr != nil {
		m.fillTrace(tr, tg, met, modelSq, decSq)
	}
	m.adam(tg, m.clipScale(modelSq), m.clipScale(decSq))
	m.updateTargets()
	return met, nil
}

// checkFiniteLosses names the first non-finite loss, the total last.
func checkFiniteLosses(x Metrics) error {
	losses := []struct {
		name string
		v    float64
	}{
		{"prediction", x.Prediction}, {"guard", x.Guard}, {"reward", x.Reward}, {"continuation", x.Cont},
		{"value", x.Value}, {"decoder", x.Decoder}, {"total", x.Total},
	}
	for _, l := range losses {
		if math.IsNaN(l.v) || math.IsInf(l.v, 0) {
			return fmt.Errorf("%w: %s loss is %g", ErrNonFinite, l.name, l.v)
		}
	}
	return nil
}

// gradSquares returns the squared global norm of the world model's
// gradient, or the name of a param whose gradient is not finite.
func gradSquares(tg *trainGraph) (model float64, bad string) {
	for _, p := range tg.trained {
		g := gradOf(p)
		s := 0.0
		for _, v := range g {
			s += float64(v) * float64(v)
		}
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, p.name
		}
		model += s
	}
	return model, ""
}

// dropGraph closes the training graph's machine and forgets the graph.
func (m *Model) dropGraph() {
	if m.tg != nil {
		m.tg.vm.Close()
		m.tg = nil
	}
}

// reset readies the machine for the next run. The tape machine adds each
// run's gradients to the ones it holds, so they are zeroed too.
func (tg *trainGraph) reset() {
	tg.vm.Reset()
	for _, p := range tg.trained {
		clear(gradOf(p))
	}
}

func gradOf(p *param) []float32 {
	g, err := p.node.Grad()
	if err != nil {
		panic(fmt.Sprintf("worldmodel: no gradient for %s: %v", p.name, err))
	}
	return g.Data().([]float32)
}

func (m *Model) clipScale(sq float64) float64 {
	if n := math.Sqrt(sq); n > m.cfg.GradClip {
		return m.cfg.GradClip / n
	}
	return 1
}

// SetLRScale makes the following training steps use the learning rate
// s·lr (lr from the config), for a schedule kept by the caller. s must be
// in (0, 1]; it is not saved with the model.
func (m *Model) SetLRScale(s float64) {
	if !(s > 0 && s <= 1) {
		panic(fmt.Sprintf("worldmodel: SetLRScale(%g) outside (0, 1]", s))
	}
	m.lrScale = s
}

// LRScale is the factor SetLRScale set (1 if none).
func (m *Model) LRScale() float64 {
	if m.lrScale == 0 {
		return 1
	}
	return m.lrScale
}

// adam applies one Adam step (Kingma & Ba 2015) to every trained param,
// with the gradient scaled by the clipping factor of its group:
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
//	θ ← θ − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
//
// The update is elementwise, so it is split over the cores by ranges of
// the weights of all params laid end to end.
func (m *Model) adam(tg *trainGraph, modelScale, decScale float64) {
	c := m.cfg
	m.steps++
	t := float64(m.steps)
	tg.grads = tg.grads[:0]
	for _, p := range tg.trained {
		tg.grads = append(tg.grads, gradOf(p))
	}
	tg.grads = append(tg.grads, tg.dec.grads[:]...)
	j := &m.buf.adamJob
	*j = adamJob{
		b1: float32(c.Beta1), b2: float32(c.Beta2),
		c1: float32(1 / (1 - math.Pow(c.Beta1, t))),
		c2: float32(1 / (1 - math.Pow(c.Beta2, t))),
		lr: float32(c.LR * m.LRScale()), eps: float32(c.AdamEps),
		model: float32(modelScale), dec: float32(decScale),
		params: tg.updated, grads: tg.grads, ends: tg.ends,
	}
	n := tg.ends[len(tg.ends)-1]
	m.workers().split(n, 1<<12, moveWork*n, j)
	*j = adamJob{}
}

// adamJob is adam on the weights [lo, hi) of the params laid end to end:
// param i holds the weights [ends[i−1], ends[i]).
type adamJob struct {
	b1, b2, c1, c2, lr, eps float32
	model, dec              float32 // clipping factors of the two groups
	params                  []*param
	grads                   [][]float32
	ends                    []int
}

func (j *adamJob) run(lo, hi int) {
	start := 0
	for i, p := range j.params {
		end := j.ends[i]
		if end <= lo || start >= hi {
			start = end
			continue
		}
		a, b := max(lo, start)-start, min(hi, end)-start
		start = end
		scale := j.model
		if p.decoder {
			scale = j.dec
		}
		g, pm, pv, w := j.grads[i][a:b], p.m[a:b], p.v[a:b], p.data[a:b]
		for k, gk := range g {
			gk *= scale
			mk := j.b1*pm[k] + (1-j.b1)*gk
			vk := j.b2*pv[k] + (1-j.b2)*gk*gk
			pm[k], pv[k] = mk, vk
			w[k] -= j.lr * (mk * j.c1) / (float32(math.Sqrt(float64(vk*j.c2))) + j.eps)
		}
	}
}

// updateTargets moves the target encoder (EMA, or a copy for stopgrad)
// and the target value network (EMA) towards the online ones.
func (m *Model) updateTargets() {
	tau := float32(m.cfg.EMATau)
	if m.cfg.Target == TargetStopGrad {
		copyEncoder(m.tenc, m.enc)
	} else {
		emaLinear(m.tenc.first, m.enc.first, tau)
		if m.enc.hasMid() {
			emaLinear(m.tenc.mid, m.enc.mid, tau)
		}
		emaLinear(m.tenc.second, m.enc.second, tau)
	}
	emaLinear(m.tval.l1, m.val.l1, tau)
	emaLinear(m.tval.l2, m.val.l2, tau)
	emaLinear(m.tval.out, m.val.out, tau)
	if m.tquant.on() {
		m.tquant.ema(m.pred.quant, tau)
	}
	if m.avg != nil {
		m.avg.update(m.cfg.AverageTau, m.steps)
	}
}

// fillInputs writes batch b into the graph's input slices and the
// decoder's, the targets included, as a training step does before its run
// of the graph.
func (m *Model) fillInputs(tg *trainGraph, b *Batch, rng *rand.Rand) {
	m.standardizeRows(tg.obs, b.Obs, (b.K+1)*b.B)
	m.fillDecoder(tg, b)
	m.startTargets(tg, b, rng)()
	m.fillGraph(tg, b, rng)
}

// startTargets starts filling the graph's inputs that come from the
// target encoder: the target embeddings z̄ of frames 1 … K and the
// returns bootstrapped by the target value on them (the action value's
// one-step returns, the n-step value targets, and the quantile targets).
// They need nothing the graph computes, so they run on a goroutine of
// their own, serially, with a view of the model that has buffers of its
// own, while the graph runs its first ops; the graph's awaitOps wait for
// them. tg.obs must hold the standardised inputs; rng seeds the random
// candidate actions of the quantile targets, if any. It returns a
// function that waits for the goroutine: call it before the weights
// change.
func (m *Model) startTargets(tg *trainGraph, b *Batch, rng *rand.Rand) (wait func()) {
	m.seedTargets(rng)
	side := m.sideView()
	done := make(chan struct{})
	tg.targetsDone = done
	go func() {
		defer close(done)
		side.fillTargets(tg, b)
	}()
	return func() { <-done }
}

// fillTargets is startTargets' work.
func (m *Model) fillTargets(tg *trainGraph, b *Batch) {
	B, K := b.B, b.K
	m.encodeStandard(m.tenc, tg.zbar, tg.obs[B*m.standardLen():], K*B)
	if m.cfg.ValueTarget == ValueNStep {
		m.nStepReturns(tg.value, b, tg.zbar, m.cfg.NStep)
		m.toValueSpace(tg.value)
	}
	if tg.qTarget != nil {
		m.nStepReturns(tg.qTarget, b, tg.zbar, 1)
		m.toValueSpace(tg.qTarget)
	}
	if tg.quantTarget != nil {
		m.quantileTargets(tg.quantTarget, b, tg.zbar, m.targetRNG)
	}
}

// sideView returns a view of the model for work beside the training
// graph: the same weights, config and input statistics, buffers of its
// own (kept from one call to the next) and no pool, so that it runs on
// the goroutine that calls it. It is valid until the weights change.
func (m *Model) sideView() *Model {
	side := m.viewInto(&m.side)
	side.pool, side.noPool = nil, true
	return side
}

// viewInto makes *slot a view of m: a copy of the model's fields, the
// same weights, with the buffers *slot had (none the first time) and
// without a training graph or views of its own. Views are refreshed on
// every call, since the copy holds the input statistics of its moment.
func (m *Model) viewInto(slot **Model) *Model {
	var buf buffers
	if *slot == nil {
		*slot = new(Model)
	} else {
		buf = (*slot).buf
	}
	v := *slot
	*v = *m
	v.buf, v.tg, v.side, v.avg = buf, nil, nil, nil
	return v
}

// fillDecoder writes the probe decoder's inputs: the latents of the first
// frames (cycling when the batch is smaller) and their newest observation
// as targets. tg.obs holds the batch's standardised inputs.
func (m *Model) fillDecoder(tg *trainGraph, b *Batch) {
	d, in := m.cfg.LatentDim, m.spec.InputDim()
	nd := m.cfg.DecoderBatch
	n := min(nd, (b.K+1)*b.B)
	m.encodeStandard(m.enc, tg.decZ, tg.obs, n)
	for i := n; i < nd; i++ {
		copy(tg.decZ[i*d:(i+1)*d], tg.decZ[(i%n)*d:(i%n+1)*d])
	}
	dim := m.decodeDim()
	for i := 0; i < nd; i++ {
		row := b.Obs[(i%n)*in : (i%n+1)*in]
		m.decodeTarget(tg.decTarget[i*dim:(i+1)*dim], row)
	}
}

// fillGraph writes the graph's inputs but the standardised inputs and
// those that startTargets fills.
func (m *Model) fillGraph(tg *trainGraph, b *Batch, rng *rand.Rand) {
	c := m.cfg
	B, K, d := b.B, b.K, c.LatentDim
	copy(tg.act, b.Actions)

	// Heads: rewards, continuation targets and masks.
	weights := stepWeights(c.Rho, K)
	for bi := 0; bi < B; bi++ {
		alive := float32(1)
		for j := 0; j < K; j++ {
			i := j*B + bi
			tg.alive[i] = alive
			tg.reward[i] = b.Rewards[i]
			tg.cont[i] = 1 - b.Terminated[i]
			tg.headWeight[i] = alive * float32(weights[j]*float64(K))
			if i < len(tg.valWeight) {
				tg.valWeight[i] = tg.headWeight[i]
			}
			if b.Terminated[i] != 0 {
				alive = 0
			}
		}
	}
	if tg.targets != nil {
		tg.targets.rng, tg.targets.actions = rng, b.Actions
	}

	if tg.dirs != nil {
		loss.RandomDirections(tg.dirs, d, c.SIGRegDirections, rng)
	}
	for i := range tg.eps {
		tg.eps[i] = float32(rng.NormFloat64())
	}
	for i := range tg.mixU {
		tg.mixU[i] = float32(rng.Float64())
	}
	if r := c.Rank; tg.eta != nil {
		for row := 0; row < K*B; row++ {
			eta := tg.eta[row*d*r : (row+1)*d*r]
			for k := 0; k < r; k++ {
				eta[k] = float32(rng.NormFloat64())
			}
			for i := 1; i < d; i++ {
				copy(eta[i*r:(i+1)*r], eta[:r])
			}
		}
	}
}

// decodeTarget writes the newest observation of input row x in the
// decoder's layout: HWC for pixels.
func (m *Model) decodeTarget(dst, x []float32) {
	newest := x[(m.spec.Stack-1)*m.spec.ObsDim:]
	if !m.spec.Pixels() {
		copy(dst, newest[:m.spec.ObsDim])
		return
	}
	hw := m.spec.Frame[0] * m.spec.Frame[1]
	for p := 0; p < hw; p++ {
		dst[3*p] = newest[p]
		dst[3*p+1] = newest[hw+p]
		dst[3*p+2] = newest[2*hw+p]
	}
}

// readMetrics reads the losses and diagnostics after a graph run.
func (m *Model) readMetrics(tg *trainGraph) Metrics {
	x := Metrics{
		Total:      float64(tg.total[0]),
		Prediction: float64(tg.pred[0]),
		Reward:     float64(tg.rewardLoss[0]),
		Cont:       float64(tg.contLoss[0]),
		Value:      float64(tg.valLoss[0]),
		Decoder:    tg.dec.loss,
		EmbedStd:   meanStd(tg.z, m.cfg.LatentDim),
	}
	if tg.guard != nil {
		x.Guard = float64(tg.guard[0])
	}
	if tg.qLoss != nil {
		x.Value += float64(tg.qLoss[0])
	}
	if tg.quantLoss != nil {
		x.Value += float64(tg.quantLoss[0])
	}
	if len(tg.logVars) > 0 {
		s, n := 0.0, 0
		for _, lv := range tg.logVars {
			for _, v := range lv {
				s += float64(v)
			}
			n += len(lv)
		}
		x.LogVar = s / float64(n)
	}
	return x
}

// meanStd is the standard deviation of each column of the row-major
// matrix x (n×d), averaged over the columns.
func meanStd(x []float32, d int) float64 {
	n := len(x) / d
	if n < 2 {
		return 0
	}
	total := 0.0
	for j := 0; j < d; j++ {
		s, ss := 0.0, 0.0
		for i := 0; i < n; i++ {
			v := float64(x[i*d+j])
			s += v
			ss += v * v
		}
		mu := s / float64(n)
		total += math.Sqrt(math.Max(ss/float64(n)-mu*mu, 0))
	}
	return total / float64(d)
}

// meanValueTarget is the mean value target of the valid rows of the last
// run, as a return.
func (m *Model) meanValueTarget(tg *trainGraph) float64 {
	v := tg.value
	if m.cfg.ValueTransform == ValueTransformSymlog {
		v = grow(&m.buf.val, len(tg.value))
		copy(v, tg.value)
		m.fromValueSpace(v)
	}
	return validMean(v, tg.alive)
}
