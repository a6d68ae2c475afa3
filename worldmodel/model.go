package worldmodel

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
)

// param is one weight matrix (rows×cols, row-major; a bias is 1×cols).
// Its data is the backing array of the gorgonia tensor bound to its node,
// so Adam's in-place update is what the next graph run and the inference
// path both read.
type param struct {
	name       string
	rows, cols int
	data       []float32
	// trained params have Adam moments; target copies have none.
	trained bool
	decoder bool // trained by the decoder's loss, clipped separately
	m, v    []float32
	node    *G.Node // node of the current graph; nil before it is built
}

// linear is x ↦ x·W + b with W in×out and an optional bias.
type linear struct {
	w, b    *param
	in, out int
}

// encoder is f(x) = relu(x·W₁ + b₁)·W₂ + b₂, where x is the state input or,
// for pixels, each P×P patch (so the first layer is a patchify
// convolution whose outputs are flattened into the second layer's input).
// With EncoderHidden a hidden layer comes between them:
// f(x) = relu(relu(x·W₁ + b₁)·W_h + b_h)·W₂ + b₂ (mid.w is nil without it).
type encoder struct {
	first, mid, second linear
}

// hasMid reports whether the encoder has the hidden layer mid.
func (e encoder) hasMid() bool { return e.mid.w != nil }

// predictor is the dynamics network h(z, a): a trunk
//
//	t = relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂)
//
// and linear heads on t: Δμ (μ = z + Δμ), the raw log σ², the factor U
// (d·r values per row, U_{ik} at i·r+k), the reward and the continuation
// logit. The deterministic model has no log σ² or U head. The mixture
// model has M blocks of d columns in Δμ and log σ² (component m at
// columns m·d … m·d+d−1, μ_m = z + Δμ_m), the mixing logits (M columns)
// and no U.
type predictor struct {
	inZ, inA, hidden linear
	mu, logVar, u    linear
	logits           linear
	reward, cont     linear
	q                linear // action value (ValueQ only)
	// The action value's own network (QNet "own"): q reads
	// relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂) instead of the trunk.
	qInZ, qInA, qHidden linear
	// quant is the distributional action value's network (QQuantiles).
	quant quantileNet
}

// ownQ reports whether the action value has a network of its own.
func (p predictor) ownQ() bool { return p.qInZ.w != nil }

// qLayers are the hidden layers that the action value's head reads: its
// own network's, or the trunk's.
func (p predictor) qLayers() (inZ, inA, hidden linear) {
	if p.ownQ() {
		return p.qInZ, p.qInA, p.qHidden
	}
	return p.inZ, p.inA, p.hidden
}

// valueNet is V(z) = relu(relu(z·W₁ + b₁)·W₂ + b₂)·W₃ + b₃.
type valueNet struct {
	l1, l2, out linear
}

// decoder is the probe decoder relu(z·W₁ + b₁)·W₂ + b₂ (frames H×W×3,
// clamped to [0, 1] when decoding).
type decoder struct {
	l1, out linear
}

// Model is the world model: encoders, the Gaussian, deterministic or
// mixture predictor, the reward, continuation and value heads, the probe decoder,
// the optimiser state and a gorgonia training graph. The inference methods
// (Encode, Step, Value, Predict, Decode) run in pure Go on the same
// weights.
//
// A Model is not safe for concurrent use: its methods share scratch
// buffers and one gorgonia machine. Use one Model per goroutine.
type Model struct {
	cfg  Config
	spec Spec

	params       []*param // fixed order: the order of the file format
	enc          encoder  // online encoder f_θ
	tenc         encoder  // target encoder f_ξ
	pred         predictor
	val          valueNet // online value V
	tval         valueNet // target value V̄ (EMA of V)
	avg          *average // Polyak average of enc, pred and val; nil without
	dec          decoder
	averagedView bool // made by Averaged: acts, never trains

	// tquant is the target copy θ̄ of the quantile network (EMA of
	// pred.quant), which bootstraps its targets; unset without it.
	tquant quantileNet
	// targetRNG draws the quantile targets' random candidate actions
	// (q_quantiles with continuous actions; nil otherwise), from a seed
	// that each training step draws from its generator (seedTargets).
	targetPCG *rand.PCG
	targetRNG *rand.Rand

	// Pixel geometry: patches per frame row, values per patch.
	nPatch, patchLen, patchRows, patchCols int

	steps int64 // Adam steps taken
	// lrScale multiplies the learning rate (SetLRScale); 0 means 1.
	lrScale float64
	norm    inputNorm

	expLo, expHi float64 // e^MinLogVar, e^MaxLogVar (see variance)

	tg   *trainGraph
	buf  buffers
	side *Model // the view of sideView, kept for its buffers

	// pool splits the inference path's products over the cores (see
	// workers); noPool records that there is one core.
	pool   *pool
	noPool bool

	dry      bool  // built by newModel to count, not to use
	dryBytes int64 // bytes of the tensors in a file (dry models only)
}

// New returns a model with freshly initialised weights drawn from rng.
// The config's zero fields take their defaults; a bad config or spec is an
// error wrapping ErrConfig.
func New(cfg Config, spec Spec, rng *rand.Rand) (*Model, error) {
	m, err := newModel(cfg, spec, false)
	if err != nil {
		return nil, err
	}
	m.init(rng)
	return m, nil
}

// newModel allocates a model's parameters (all zero). With dry set it
// allocates nothing and only counts, in dryBytes, the bytes the model's
// tensors take in a file.
func newModel(cfg Config, spec Spec, dry bool) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	spec = spec.withDefaults(cfg)
	if err := spec.validate(cfg); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, spec: spec, dry: dry}
	m.expLo, m.expHi = math.Exp(cfg.MinLogVar), math.Exp(cfg.MaxLogVar)
	d, h, a := cfg.LatentDim, cfg.Hidden, spec.ActionDim
	lin := func(name string, in, out int, bias, trained bool) linear {
		l := linear{in: in, out: out}
		l.w = m.newParam(name+".w", in, out, trained)
		if bias {
			l.b = m.newParam(name+".b", 1, out, trained)
		}
		return l
	}
	newEncoder := func(prefix string, trained bool) encoder {
		if spec.Pixels() {
			p := cfg.Patch
			m.patchRows, m.patchCols = spec.Frame[0]/p, spec.Frame[1]/p
			m.nPatch = m.patchRows * m.patchCols
			m.patchLen = spec.Stack * 3 * p * p
			e := encoder{first: lin(prefix+".patch", m.patchLen, cfg.Channels, true, trained)}
			flat := m.nPatch * cfg.Channels
			if cfg.EncoderHidden > 0 {
				e.mid = lin(prefix+".hidden", flat, cfg.EncoderHidden, true, trained)
				flat = cfg.EncoderHidden
			}
			e.second = lin(prefix+".out", flat, d, true, trained)
			return e
		}
		return encoder{
			first:  lin(prefix+".l1", spec.InputDim(), h, true, trained),
			second: lin(prefix+".l2", h, d, true, trained),
		}
	}
	m.enc = newEncoder("enc", true)
	comps := m.components()
	newPredictor := func(prefix string, trained bool) predictor {
		p := predictor{
			inZ:    lin(prefix+".in_z", d, h, true, trained),
			inA:    lin(prefix+".in_a", a, h, false, trained),
			hidden: lin(prefix+".hidden", h, h, true, trained),
			mu:     lin(prefix+".mu", h, comps*d, true, trained),
			reward: lin(prefix+".reward", h, 1, true, trained),
			cont:   lin(prefix+".cont", h, 1, true, trained),
		}
		switch cfg.Dynamics {
		case DynamicsGaussian:
			p.logVar = lin(prefix+".log_var", h, d, true, trained)
			if cfg.Rank > 0 {
				p.u = lin(prefix+".u", h, d*cfg.Rank, true, trained)
			}
		case DynamicsMixture:
			p.logVar = lin(prefix+".log_var", h, comps*d, true, trained)
			p.logits = lin(prefix+".logits", h, comps, true, trained)
		}
		if cfg.ValueTarget == ValueQ {
			p.q = lin(prefix+".q", h, 1, true, trained)
			if cfg.QNet == QNetOwn {
				p.qInZ = lin(prefix+".q_in_z", d, h, true, trained)
				p.qInA = lin(prefix+".q_in_a", a, h, false, trained)
				p.qHidden = lin(prefix+".q_hidden", h, h, true, trained)
			}
		}
		if n := cfg.QQuantiles; n > 0 {
			p.quant = newQuantileNet(lin, prefix+".quantile", d, a, h, n, trained)
		}
		return p
	}
	newValue := func(prefix string, trained bool) valueNet {
		return valueNet{
			l1:  lin(prefix+".l1", d, h, true, trained),
			l2:  lin(prefix+".l2", h, h, true, trained),
			out: lin(prefix+".out", h, 1, true, trained),
		}
	}
	m.pred = newPredictor("pred", true)
	m.val = newValue("value", true)
	first := len(m.params)
	m.dec = decoder{
		l1:  lin("decoder.l1", d, cfg.DecoderHidden, true, true),
		out: lin("decoder.out", cfg.DecoderHidden, m.decodeDim(), true, true),
	}
	for _, p := range m.params[first:] {
		p.decoder = true
	}
	m.tenc = newEncoder("target_enc", false)
	m.tval = newValue("target_value", false)
	if n := cfg.QQuantiles; n > 0 {
		m.tquant = newQuantileNet(lin, "target_quantile", d, a, h, n, false)
		if !spec.Discrete {
			m.targetPCG = rand.NewPCG(0, 0)
			m.targetRNG = rand.New(m.targetPCG)
		}
	}
	if cfg.averaged() {
		online := len(m.params)
		m.avg = &average{
			enc:  newEncoder("average.enc", false),
			pred: newPredictor("average.pred", false),
			val:  newValue("average.value", false),
		}
		if !dry {
			m.avg.pair(m.params[:online], m.params[online:])
		}
	}
	unit := spec.ObsDim
	if spec.Pixels() {
		unit = 3 * spec.Frame[0] * spec.Frame[1]
	}
	if dry {
		m.dryBytes += 8 * int64(unit)
		return m, nil
	}
	m.norm = newInputNorm(unit)
	return m, nil
}

func (m *Model) newParam(name string, rows, cols int, trained bool) *param {
	p := &param{name: name, rows: rows, cols: cols, trained: trained}
	if m.dry {
		n := 4 * int64(rows) * int64(cols)
		if trained {
			n *= 3
		}
		m.dryBytes += n
		return p
	}
	p.data = make([]float32, rows*cols)
	if trained {
		p.m = make([]float32, rows*cols)
		p.v = make([]float32, rows*cols)
	}
	m.params = append(m.params, p)
	return p
}

// components is the number of predicted components: M for the mixture, 1
// otherwise.
func (m *Model) components() int {
	if m.cfg.Dynamics == DynamicsMixture {
		return m.cfg.Components
	}
	return 1
}

// decodeDim is the length of one decoded row: H·W·3 for pixels, ObsDim for
// state vectors.
func (m *Model) decodeDim() int { return m.spec.ObsDim }

// init draws the weights as PyTorch's nn.Linear does, W, b ~ U(−1/√in,
// 1/√in), with these changes: the factor head U starts 10× smaller (so the
// covariance starts near diagonal), the reward, continuation, value and
// quantile outputs start at zero (DreamerV3), and the target networks start as
// copies of the online ones. For the mixture, the logits start 10× smaller
// with zero bias (near-uniform weights), and the biases of the components'
// Δμ are spread out (see spreadComponents), so that the components start
// apart and each can claim its own outcome.
func (m *Model) init(rng *rand.Rand) {
	uniform := func(l linear, scale float64) {
		if l.w == nil {
			return
		}
		bound := scale / math.Sqrt(float64(l.in))
		for i := range l.w.data {
			l.w.data[i] = float32(bound * (2*rng.Float64() - 1))
		}
		if l.b != nil {
			for i := range l.b.data {
				l.b.data[i] = float32(bound * (2*rng.Float64() - 1))
			}
		}
	}
	zero := func(l linear) {
		clear(l.w.data)
		clear(l.b.data)
	}
	uniform(m.enc.first, 1)
	if m.enc.hasMid() {
		uniform(m.enc.mid, 1)
	}
	uniform(m.enc.second, 1)
	p := m.pred
	for _, l := range []linear{p.inZ, p.inA, p.hidden, p.mu, p.logVar, p.qInZ, p.qInA, p.qHidden} {
		uniform(l, 1)
	}
	uniform(p.u, 0.1)
	if m.cfg.Dynamics == DynamicsMixture {
		uniform(p.logits, 0.1)
		clear(p.logits.b.data)
		spreadComponents(p.mu.b.data, m.cfg.Components, rng)
	}
	zero(p.reward)
	zero(p.cont)
	if p.quant.on() {
		uniform(p.quant.inZ, 1)
		uniform(p.quant.inA, 1)
		uniform(p.quant.hidden, 1)
		zero(p.quant.out)
		m.tquant.copyFrom(p.quant)
	}
	uniform(m.val.l1, 1)
	uniform(m.val.l2, 1)
	zero(m.val.out)
	uniform(m.dec.l1, 1)
	uniform(m.dec.out, 1)
	copyEncoder(m.tenc, m.enc)
	copyValue(m.tval, m.val)
	if m.avg != nil {
		m.avg.reset()
	}
}

func copyLinear(dst, src linear) {
	copy(dst.w.data, src.w.data)
	if src.b != nil {
		copy(dst.b.data, src.b.data)
	}
}

func copyEncoder(dst, src encoder) {
	copyLinear(dst.first, src.first)
	if src.hasMid() {
		copyLinear(dst.mid, src.mid)
	}
	copyLinear(dst.second, src.second)
}

func copyValue(dst, src valueNet) {
	copyLinear(dst.l1, src.l1)
	copyLinear(dst.l2, src.l2)
	copyLinear(dst.out, src.out)
}

// emaLinear sets dst ← τ·dst + (1−τ)·src.
func emaLinear(dst, src linear, tau float32) {
	ema(dst.w.data, src.w.data, tau)
	if src.b != nil {
		ema(dst.b.data, src.b.data, tau)
	}
}

// ema sets d ← τ·d + (1−τ)·s element by element.
func ema(d, s []float32, tau float32) {
	for i, v := range s {
		d[i] = tau*d[i] + (1-tau)*v
	}
}

// Config returns the model's config with its defaults filled in.
func (m *Model) Config() Config { return m.cfg }

// Spec returns the model's input spec with its defaults filled in.
func (m *Model) Spec() Spec { return m.spec }

// LatentDim is the latent dimension d.
func (m *Model) LatentDim() int { return m.cfg.LatentDim }

// ActionDim is the width of an action row.
func (m *Model) ActionDim() int { return m.spec.ActionDim }

// InputDim is the length of one input row (see Spec).
func (m *Model) InputDim() int { return m.spec.InputDim() }

// Steps is the number of training steps applied so far.
func (m *Model) Steps() int64 { return m.steps }

// NumParams is the number of trained weights (decoder included, target
// copies excluded).
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		if p.trained {
			n += len(p.data)
		}
	}
	return n
}

// String summarises the architecture.
func (m *Model) String() string {
	in := fmt.Sprintf("state %d×%d", m.spec.Stack, m.spec.ObsDim)
	if m.spec.Pixels() {
		in = fmt.Sprintf("pixels %d×%d×%d×3", m.spec.Stack, m.spec.Frame[0], m.spec.Frame[1])
	}
	dyn := m.cfg.Dynamics
	if dyn == DynamicsMixture {
		dyn = fmt.Sprintf("mixture of %d", m.cfg.Components)
	}
	return fmt.Sprintf("worldmodel(%s, d=%d, rank=%d, hidden=%d, %s, %d params)",
		dyn, m.cfg.LatentDim, m.cfg.Rank, m.cfg.Hidden, in, m.NumParams())
}
