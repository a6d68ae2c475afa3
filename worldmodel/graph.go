package worldmodel

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/dreamrl/dream/worldmodel/loss"
)

// trainGraph is the gorgonia graph of one training step for batches of B
// sequences of K predicted steps, with its machine and its input slices.
// Inputs are tensors over slices owned here, refilled in place each step.
type trainGraph struct {
	B, K int
	g    *G.ExprGraph
	vm   G.VM

	// Inputs.
	obs        []float32         // online encoder input: (K+1)·B rows (patches for pixels)
	act        []float32         // K·B × A
	zbar       []float32         // target embeddings f_ξ(o_{j+1}), K·B × d
	reward     []float32         // K·B, r_j
	cont       []float32         // K·B, 1 − terminated_j
	headWeight []float32         // K·B, weight of the reward and continuation rows
	alive      []float32         // K·B, 1 where no terminal step came before step j
	value      []float32         // valueSteps·B, value targets
	targets    *valueTargetState // of the value targets computed in the graph; nil for n-step returns
	// targetsDone closes when startTargets has filled zbar, qTarget and,
	// for n-step returns, value.
	targetsDone chan struct{}
	valWeight   []float32 // valueSteps·B, weight of the value rows
	qTarget     []float32 // K·B, action-value targets (ValueQ only)
	quantTarget []float32 // K·B × M, quantile targets (QQuantiles only)
	// frozen makes the graph's stop-gradients (detach) keep the values of
	// their last run, to take finite differences of the loss with them
	// held constant.
	frozen    bool
	dirs      []float32 // d × M, SIGReg directions
	eps, eta  []float32 // K·B·d and K·B·d·r, sampling noise (FeedSamples)
	mixU      []float32 // K·B, uniforms that draw mixture components (FeedSamples)
	decZ      []float32 // DecoderBatch × d, detached latents (dec.z)
	decTarget []float32 // DecoderBatch × decodeDim (dec.target)

	// dec trains the probe decoder beside the graph (see decoderStep).
	dec *decoderStep

	cost    *G.Node
	trained []*param // params with gradients in the graph, in order
	// updated is trained followed by the decoder's params: what an Adam
	// step updates; ends[i] is the number of weights of updated[:i+1], and
	// grads holds their gradients during an Adam step.
	updated []*param
	ends    []int
	grads   [][]float32

	// Values copied out during a run (see tapOp): the losses, the online
	// embeddings ((K+1)·B × d), and per step j the effective log σ², the
	// mean, the reward, the continuation logit and the value. For the
	// mixture, logVars and mus hold every component (B × M·d) and
	// mixLogits the logits (B × M).
	total, pred, guard            []float32
	entropy                       []float32 // the mixture's weighted entropy sum; nil without it
	rewardLoss, contLoss, valLoss []float32
	qLoss                         []float32 // ValueQ only
	quantLoss                     []float32 // QQuantiles only
	z                             []float32
	logVars, mus, mixLogits       [][]float32
	rewards, conts, values, qs    [][]float32
	quants                        [][]float32 // per step, B × M (QQuantiles only)
}

// graphBuilder wraps gorgonia's constructors; construction errors are
// programmer errors, so they panic and buildGraph recovers them.
type graphBuilder struct {
	g    *G.ExprGraph
	pool *pool // splits the layers' products over the cores
}

func (b graphBuilder) input(name string, rows, cols int) (*G.Node, []float32) {
	data := make([]float32, rows*cols)
	t := tensor.New(tensor.WithBacking(data), tensor.WithShape(rows, cols))
	return G.NewMatrix(b.g, G.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(t)), data
}

func (b graphBuilder) scalar(v float64) *G.Node { return G.NewConstant(float32(v)) }

// affine is x·W + b, followed by a ReLU when relu is set.
func (b graphBuilder) affine(x *G.Node, l linear, relu bool) *G.Node {
	return b.layer(x, l, relu, false)
}

// affineData is affine on data x, which gets no gradient.
func (b graphBuilder) affineData(x *G.Node, l linear, relu bool) *G.Node {
	return b.layer(x, l, relu, true)
}

func (b graphBuilder) layer(x *G.Node, l linear, relu, data bool) *G.Node {
	var bias *G.Node
	if l.b != nil {
		bias = l.b.node
	}
	return denseData(b.pool, []*G.Node{x, l.w.node}, bias, nil, relu, data)
}

func (b graphBuilder) rows(x *G.Node, from, to int) *G.Node {
	return G.Must(G.Slice(x, G.S(from, to)))
}

func (b graphBuilder) scale(x *G.Node, c float64) *G.Node {
	return G.Must(G.Mul(x, b.scalar(c)))
}

func (b graphBuilder) add(x, y *G.Node) *G.Node { return G.Must(G.Add(x, y)) }

func must(n *G.Node, err error) *G.Node { return G.Must(n, err) }

// buildGraph builds the training graph for batches of B sequences of K
// steps. The graph's weight nodes share their backing arrays with the
// model's params.
func (m *Model) buildGraph(B, K int) (tg *trainGraph, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("worldmodel: build training graph: %v", r)
		}
	}()
	c := m.cfg
	d, r := c.LatentDim, c.Rank
	g := G.NewGraph()
	b := graphBuilder{g: g, pool: m.workers()}
	tg = &trainGraph{B: B, K: K, g: g}
	for _, p := range m.params {
		if !p.trained || p.decoder {
			continue // target copies are read by the inference path only; the decoder trains outside
		}
		t := tensor.New(tensor.WithBacking(p.data), tensor.WithShape(p.rows, p.cols))
		p.node = G.NewMatrix(g, G.Float32, G.WithShape(p.rows, p.cols), G.WithName(p.name), G.WithValue(t))
	}

	// Online encoder on every frame of the batch.
	frames := (K + 1) * B
	var z *G.Node
	if m.spec.Pixels() {
		var x *G.Node
		x, tg.obs = b.input("obs", frames*m.nPatch, m.patchLen)
		e1 := b.affineData(x, m.enc.first, true)
		e1 = must(G.Reshape(e1, tensor.Shape{frames, m.nPatch * c.Channels}))
		if m.enc.hasMid() {
			e1 = b.affine(e1, m.enc.mid, true)
		}
		z = b.affine(e1, m.enc.second, false)
	} else {
		var x *G.Node
		x, tg.obs = b.input("obs", frames, m.spec.InputDim())
		z = b.affine(b.affineData(x, m.enc.first, true), m.enc.second, false)
	}
	if c.EmbedNorm == EmbedNormRMS {
		z = rmsNorm(z)
	}
	tg.z = tap(z)

	// Collapse guard on the online embeddings of all frames. SIGReg is
	// built first, and computes its loss and gradient beside the rest of
	// the graph from there on; its value is settled where it is used.
	predWeight := 1 - c.GuardWeight
	var guard, sigReg *G.Node
	switch c.Guard {
	case GuardSIGReg:
		var dirs *G.Node
		dirs, tg.dirs = b.input("sigreg_directions", d, c.SIGRegDirections)
		sigReg = must(loss.SIGRegBeside(z, dirs, c.SIGRegKnots))
	case GuardVICReg:
		guard = must(loss.VICReg(z, loss.VICRegOptions{}))
	default:
		predWeight = 1
	}

	act, actData := b.input("actions", K*B, m.spec.ActionDim)
	tg.act = actData
	zbar, zbarData := await(z, "target_embeddings", K*B, d, &tg.targetsDone)
	tg.zbar = zbarData
	alive, aliveData := b.input("alive", K*B, 1)
	tg.alive = aliveData
	var eps, eta, mixU *G.Node
	if c.FeedSamples && c.Dynamics != DynamicsDeterministic {
		eps, tg.eps = b.input("eps", K*B, d)
		if r > 0 {
			eta, tg.eta = b.input("eta", K*B*d, r)
		}
		if c.Dynamics == DynamicsMixture {
			mixU, tg.mixU = b.input("component_uniforms", K*B, 1)
		}
	}

	// Rollout of the predictor from z_0 with the logged actions.
	weights := stepWeights(c.Rho, K)
	zhat := b.rows(z, 0, B)
	var predLoss, entropySum *G.Node
	var rewards, conts, values, qs, quants []*G.Node
	for j := 0; j < K; j++ {
		aj := b.rows(act, j*B, (j+1)*B)
		p := m.pred
		t := m.graphTrunk(b, zhat, aj)
		target := b.rows(zbar, j*B, (j+1)*B)
		gate := b.rows(alive, j*B, (j+1)*B)
		var mu, lj, lv, u, entropy *G.Node
		var mix mixtureNodes
		if c.Dynamics == DynamicsMixture {
			mix = m.graphMixture(b, t, zhat)
			tg.mus = append(tg.mus, tap(mix.mus))
			tg.logVars = append(tg.logVars, tap(mix.logVars))
			tg.mixLogits = append(tg.mixLogits, tap(mix.logits))
			lj, entropy = m.graphMixtureLoss(mix, target, gate)
		} else {
			mu = dense(b.pool, []*G.Node{t, p.mu.w.node}, p.mu.b.node, zhat, false)
			tg.mus = append(tg.mus, tap(mu))
		}
		switch c.Dynamics {
		case DynamicsGaussian:
			lv = m.graphLogVar(b, t)
			tg.logVars = append(tg.logVars, tap(lv))
			var uGated *G.Node
			if r > 0 {
				u = b.affine(t, p.u, false)
				uGated = rowGate(u, gate, nil)
			}
			lj = must(loss.GaussianNLL(target, rowGate(mu, gate, target), rowGate(lv, gate, nil), uGated, r,
				loss.NLLOptions{Beta: c.BetaNLL}))
		case DynamicsDeterministic:
			lj = must(loss.SquaredError(target, rowGate(mu, gate, target)))
		}
		if entropy != nil {
			entropy = b.scale(entropy, weights[j])
			if entropySum == nil {
				entropySum = entropy
			} else {
				entropySum = b.add(entropySum, entropy)
			}
		}
		lj = b.scale(lj, weights[j])
		if predLoss == nil {
			predLoss = lj
		} else {
			predLoss = b.add(predLoss, lj)
		}
		rewards = append(rewards, b.affine(t, p.reward, false))
		conts = append(conts, b.affine(t, p.cont, false))
		tg.rewards = append(tg.rewards, tap(rewards[j]))
		// The values train on the imagined latents, or on the real ones
		// (ValueLatents "real"): from step 1 on the online latents of the
		// batch's frames with a trunk of their own.
		vz, vt := zhat, t
		realLatents := j > 0 && c.ValueLatents == ValueLatentsReal
		if realLatents {
			vz = b.rows(z, j*B, (j+1)*B)
		}
		if p.q.w != nil && (realLatents || p.ownQ()) {
			// q's head reads its hidden layers on vz: the trunk's again
			// on the real latents, or its own network's.
			inZ, inA, hid := p.qLayers()
			vt = graphHidden(b, vz, aj, inZ, inA, hid)
		}
		if j < m.valueSteps(K) {
			values = append(values, m.graphValue(b, vz))
			tg.values = append(tg.values, tap(values[j]))
		}
		if p.q.w != nil {
			q := b.affine(vt, p.q, false)
			if c.QHead == QHeadAdvantage {
				// Every step has its value (valueSteps(K) = K).
				q = b.add(q, detach(values[j], &tg.frozen))
			}
			qs = append(qs, q)
			tg.qs = append(tg.qs, tap(qs[j]))
		}
		if p.quant.on() {
			// The distributional action value, on q's latents.
			quants = append(quants, graphQuantiles(b, p.quant, vz, aj))
			tg.quants = append(tg.quants, tap(quants[j]))
		}
		tg.conts = append(tg.conts, tap(conts[j]))
		if j == K-1 {
			break
		}
		zhat = mu
		switch {
		case mixU != nil:
			zhat = m.graphMixtureSample(mix, b.rows(mixU, j*B, (j+1)*B), b.rows(eps, j*B, (j+1)*B))
		case mix.mus != nil:
			// The mode, the most likely component's mean, as the
			// inference path's mean step.
			zhat = m.graphMixtureMode(mix)
		case eps != nil:
			sigma := must(G.Exp(b.scale(lv, 0.5)))
			zhat = b.add(zhat, must(G.HadamardProd(sigma, b.rows(eps, j*B, (j+1)*B))))
			if eta != nil {
				// (Uη)_bi = Σ_k U_b,ik η_b,k with η_b repeated over i.
				ur := must(G.Reshape(u, tensor.Shape{B * d, r}))
				prod := must(G.HadamardProd(ur, b.rows(eta, j*B*d, (j+1)*B*d)))
				zhat = b.add(zhat, must(G.Reshape(must(G.Sum(prod, 1)), tensor.Shape{B, d})))
			}
		}
	}
	tg.pred = tap(predLoss)

	// Heads on the imagined latents.
	cat := func(ns []*G.Node) *G.Node {
		if len(ns) == 1 {
			return ns[0]
		}
		return must(G.Concat(0, ns...))
	}
	rewardIn, rewardData := b.input("rewards", K*B, 1)
	contIn, contData := b.input("continues", K*B, 1)
	headW, headWData := b.input("head_weights", K*B, 1)
	nv := m.valueSteps(K) * B
	var valueIn *G.Node
	if c.ValueTarget == ValueNStep {
		valueIn, tg.value = await(z, "value_targets", nv, 1, &tg.targetsDone)
	} else {
		// From the online latents of frames 0 … K−1, detached.
		tg.targets = new(valueTargetState)
		valueIn = m.graphValueTargets(z, nv, tg.targets)
		tg.value = tap(valueIn)
	}
	valW, valWData := b.input("value_weights", nv, 1)
	tg.reward, tg.cont, tg.headWeight, tg.valWeight = rewardData, contData, headWData, valWData
	if tg.targets != nil {
		tg.targets.weights = valWData
	}
	rewardLoss := must(loss.MSE(cat(rewards), rewardIn, headW))
	contLoss := must(loss.BCEWithLogits(cat(conts), contIn, headW))
	valLoss := must(loss.MSE(cat(values), valueIn, valW))
	tg.rewardLoss, tg.contLoss, tg.valLoss = tap(rewardLoss), tap(contLoss), tap(valLoss)
	if qs != nil {
		// The action value regresses one-step returns on the imagined
		// latents with the logged actions, weighted as the other heads.
		var qIn *G.Node
		qIn, tg.qTarget = await(z, "q_targets", K*B, 1, &tg.targetsDone)
		qLoss := must(loss.MSE(cat(qs), qIn, headW))
		tg.qLoss = tap(qLoss)
		valLoss = b.add(valLoss, qLoss)
	}
	if quants != nil {
		// The quantiles regress the distributional one-step returns by
		// the quantile Huber loss, weighted as q's loss.
		var quantIn *G.Node
		quantIn, tg.quantTarget = await(z, "quantile_targets", K*B, c.QQuantiles, &tg.targetsDone)
		quantLoss := must(loss.QuantileHuber(cat(quants), quantIn, headW, c.QQuantileKappa))
		tg.quantLoss = tap(quantLoss)
		valLoss = b.add(valLoss, quantLoss)
	}

	if sigReg != nil {
		guard = must(loss.Settle(sigReg))
	}
	total := b.scale(predLoss, predWeight)
	if entropySum != nil {
		tg.entropy = tap(entropySum)
		// The mixture's entropy bonus, −c·Σ_j w_j H(π_j), weighted as the
		// prediction loss.
		_, bonus := c.mixtureOptions()
		total = b.add(total, b.scale(entropySum, -predWeight*bonus))
	}
	if guard != nil {
		tg.guard = tap(guard)
		total = b.add(total, b.scale(guard, c.GuardWeight))
	}
	total = b.add(total, b.scale(rewardLoss, c.RewardWeight))
	total = b.add(total, b.scale(contLoss, c.ContWeight))
	total = b.add(total, b.scale(valLoss, c.ValueWeight))
	tg.total = tap(total)

	// The cost is a node of its own: gorgonia differentiates from it, and
	// the tap above must not be the only reader of total.
	tg.cost = b.scale(total, 1)

	// The probe decoder reads detached latents: it trains beside the
	// graph, on its own goroutine.
	tg.dec = m.newDecoderStep(c.DecoderBatch)
	tg.decZ, tg.decTarget = tg.dec.z, tg.dec.target

	var nodes G.Nodes
	for _, p := range m.params {
		if p.trained && !p.decoder {
			tg.trained = append(tg.trained, p)
			nodes = append(nodes, p.node)
		}
	}
	dec := m.decoderParams()
	tg.updated = append(append([]*param(nil), tg.trained...), dec[:]...)
	count := 0
	for _, p := range tg.updated {
		count += len(p.data)
		tg.ends = append(tg.ends, count)
	}
	if _, err := G.Grad(tg.cost, nodes...); err != nil {
		return nil, fmt.Errorf("worldmodel: gradient of the training graph: %w", err)
	}
	tg.vm = G.NewTapeMachine(g, G.BindDualValues(nodes...))
	return tg, nil
}

// graphTrunk is the predictor's trunk on latents z and actions a, as the
// inference path's trunk computes it.
func (m *Model) graphTrunk(b graphBuilder, z, a *G.Node) *G.Node {
	p := m.pred
	return graphHidden(b, z, a, p.inZ, p.inA, p.hidden)
}

// graphHidden is relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂), the hidden
// layers of a network on (z, a), as hiddenInto computes them.
func graphHidden(b graphBuilder, z, a *G.Node, inZ, inA, hidden linear) *G.Node {
	t1 := dense(b.pool, []*G.Node{z, inZ.w.node, a, inA.w.node}, inZ.b.node, nil, true)
	return b.affine(t1, hidden, true)
}

// graphLogVar is the effective log-variance log(exp(softBound(raw)) +
// floor) of trunk output t, as one fused op (see logVarOp).
func (m *Model) graphLogVar(b graphBuilder, t *G.Node) *G.Node {
	raw := b.affine(t, m.pred.logVar, false)
	return logVar(raw, m.cfg.MinLogVar, m.cfg.MaxLogVar, m.cfg.VarFloor)
}

// valueSteps is the number of imagined latents ẑ_0 … per sequence that
// the value is trained on: all K, with n-step returns from replay or
// imagined TD(λ) returns from each replay latent (a value trained on the
// first latent alone learns K times slower and stays starved on
// gridworlds).
func (m *Model) valueSteps(K int) int {
	return K
}

// graphValue is the online value network on z.
func (m *Model) graphValue(b graphBuilder, z *G.Node) *G.Node {
	v := b.affine(z, m.val.l1, true)
	v = b.affine(v, m.val.l2, true)
	return b.affine(v, m.val.out, false)
}

// stepWeights are the normalised multi-step weights w_j = ρ^j / Σ_i ρ^i,
// j = 0 … k−1.
func stepWeights(rho float64, k int) []float64 {
	w := make([]float64, k)
	sum, p := 0.0, 1.0
	for j := range w {
		w[j] = p
		sum += p
		p *= rho
	}
	for j := range w {
		w[j] /= sum
	}
	return w
}

// awaitOp hands the graph data that a goroutine beside it fills (see
// startTargets): its value is a matrix on that data, returned once the
// goroutine is done. Its input, which it does not read, orders it after
// that node, so that the machine runs the ops before it meanwhile. The
// data are constants of the loss: the op has no gradient.
type awaitOp struct {
	name string
	out  *tensor.Dense
	done *chan struct{}
}

// await returns an awaitOp after node after and the rows×cols slice it
// hands over once *done is closed.
func await(after *G.Node, name string, rows, cols int, done *chan struct{}) (*G.Node, []float32) {
	op := awaitOp{name: name, out: newMatrix(rows, cols), done: done}
	return must(G.ApplyOp(op, after)), op.out.Float32s()
}

func (op awaitOp) Arity() int    { return 1 }
func (op awaitOp) Type() hm.Type { return fnType(1) }
func (op awaitOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.out.Shape().Clone(), nil
}
func (op awaitOp) Do(...G.Value) (G.Value, error) {
	<-*op.done
	return op.out, nil
}
func (op awaitOp) DiffWRT(int) []bool { return []bool{false} }
func (op awaitOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("worldmodel: %v has no gradient", op)
}
func (op awaitOp) ReturnsPtr() bool      { return false }
func (op awaitOp) CallsExtern() bool     { return false }
func (op awaitOp) OverwritesInput() int  { return -1 }
func (op awaitOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op awaitOp) Hashcode() uint32      { return hashString(op.String()) }
func (op awaitOp) String() string        { return fmt.Sprintf("Await(%s %v)", op.name, op.out.Shape()) }

// detachOp is its input as a constant: the same values, no gradient
// (a stop-gradient). While *frozen is set it keeps its last values.
type detachOp struct {
	out    *tensor.Dense
	frozen *bool
}

func detach(x *G.Node, frozen *bool) *G.Node {
	sh := x.Shape()
	return must(G.ApplyOp(detachOp{newMatrix(sh[0], sh[1]), frozen}, x))
}

func (op detachOp) Arity() int    { return 1 }
func (op detachOp) Type() hm.Type { return fnType(1) }
func (op detachOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return op.out.Shape().Clone(), nil
}
func (op detachOp) Do(vals ...G.Value) (G.Value, error) {
	if !*op.frozen {
		copy(op.out.Float32s(), data(vals[0]))
	}
	return op.out, nil
}
func (op detachOp) DiffWRT(int) []bool { return []bool{false} }
func (op detachOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("worldmodel: %v has no gradient", op)
}
func (op detachOp) ReturnsPtr() bool      { return false }
func (op detachOp) CallsExtern() bool     { return false }
func (op detachOp) OverwritesInput() int  { return -1 }
func (op detachOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op detachOp) Hashcode() uint32      { return hashString(op.String()) }
func (op detachOp) String() string        { return fmt.Sprintf("Detach(%v)", op.out.Shape()) }
