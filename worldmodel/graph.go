package worldmodel

import (
	"fmt"

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
	obs        []float32 // online encoder input: (K+1)·B rows (patches for pixels)
	act        []float32 // K·B × A
	zbar       []float32 // target embeddings f_ξ(o_{j+1}), K·B × d
	reward     []float32 // K·B, r_j
	cont       []float32 // K·B, 1 − terminated_j
	headWeight []float32 // K·B, weight of the reward and continuation rows
	value      []float32 // valueSteps·B, value targets
	valWeight  []float32 // valueSteps·B, weight of the value rows
	dirs       []float32 // d × M, SIGReg directions
	eps, eta   []float32 // K·B·d and K·B·d·r, sampling noise (FeedSamples)
	decZ       []float32 // DecoderBatch × d, detached latents
	decTarget  []float32 // DecoderBatch × decodeDim

	// Outputs.
	cost, total, pred, guard      *G.Node
	rewardLoss, contLoss, valLoss *G.Node
	decLoss                       *G.Node
	z                             *G.Node   // online embeddings, (K+1)·B × d
	logVars                       []*G.Node // per step, B × d
	trained                       []*param  // params with gradients, in order
}

// graphBuilder wraps gorgonia's constructors; construction errors are
// programmer errors, so they panic and buildGraph recovers them.
type graphBuilder struct {
	g *G.ExprGraph
}

func (b graphBuilder) input(name string, rows, cols int) (*G.Node, []float32) {
	data := make([]float32, rows*cols)
	t := tensor.New(tensor.WithBacking(data), tensor.WithShape(rows, cols))
	return G.NewMatrix(b.g, G.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(t)), data
}

func (b graphBuilder) scalar(v float64) *G.Node { return G.NewConstant(float32(v)) }

func (b graphBuilder) affine(x *G.Node, l linear) *G.Node {
	y := G.Must(G.Mul(x, l.w.node))
	if l.b != nil {
		y = G.Must(G.BroadcastAdd(y, l.b.node, nil, []byte{0}))
	}
	return y
}

func (b graphBuilder) relu(x *G.Node) *G.Node { return G.Must(G.Rectify(x)) }

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
	b := graphBuilder{g: g}
	tg = &trainGraph{B: B, K: K, g: g}
	for _, p := range m.params {
		t := tensor.New(tensor.WithBacking(p.data), tensor.WithShape(p.rows, p.cols))
		p.node = G.NewMatrix(g, G.Float32, G.WithShape(p.rows, p.cols), G.WithName(p.name), G.WithValue(t))
	}

	// Online encoder on every frame of the batch.
	frames := (K + 1) * B
	var z *G.Node
	if m.spec.Pixels() {
		var x *G.Node
		x, tg.obs = b.input("obs", frames*m.nPatch, m.patchLen)
		e1 := b.relu(b.affine(x, m.enc.first))
		e1 = must(G.Reshape(e1, tensor.Shape{frames, m.nPatch * c.Channels}))
		z = b.affine(e1, m.enc.second)
	} else {
		var x *G.Node
		x, tg.obs = b.input("obs", frames, m.spec.InputDim())
		z = b.affine(b.relu(b.affine(x, m.enc.first)), m.enc.second)
	}
	tg.z = z

	act, actData := b.input("actions", K*B, m.spec.ActionDim)
	tg.act = actData
	zbar, zbarData := b.input("target_embeddings", K*B, d)
	tg.zbar = zbarData
	var eps, eta *G.Node
	if c.FeedSamples && c.Dynamics == DynamicsGaussian {
		eps, tg.eps = b.input("eps", K*B, d)
		if r > 0 {
			eta, tg.eta = b.input("eta", K*B*d, r)
		}
	}

	// Rollout of the predictor from z_0 with the logged actions.
	weights := stepWeights(c.Rho, K)
	zhat := b.rows(z, 0, B)
	var predLoss *G.Node
	var rewards, conts, values []*G.Node
	for j := 0; j < K; j++ {
		aj := b.rows(act, j*B, (j+1)*B)
		t1 := b.add(b.affine(zhat, m.pred.inZ), must(G.Mul(aj, m.pred.inA.w.node)))
		t := b.relu(b.affine(b.relu(t1), m.pred.hidden))
		mu := b.add(zhat, b.affine(t, m.pred.mu))
		target := b.rows(zbar, j*B, (j+1)*B)
		var lj, lv, u *G.Node
		if c.Dynamics == DynamicsGaussian {
			lv = m.graphLogVar(b, t)
			tg.logVars = append(tg.logVars, lv)
			if r > 0 {
				u = b.affine(t, m.pred.u)
			}
			lj = must(loss.GaussianNLL(target, mu, lv, u, r, loss.NLLOptions{Beta: c.BetaNLL}))
		} else {
			lj = must(loss.SquaredError(target, mu))
		}
		lj = b.scale(lj, weights[j])
		if predLoss == nil {
			predLoss = lj
		} else {
			predLoss = b.add(predLoss, lj)
		}
		rewards = append(rewards, b.affine(t, m.pred.reward))
		conts = append(conts, b.affine(t, m.pred.cont))
		if j < m.valueSteps(K) {
			values = append(values, m.graphValue(b, zhat))
		}
		if j == K-1 {
			break
		}
		zhat = mu
		if eps != nil {
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
	tg.pred = predLoss

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
	valueIn, valueData := b.input("value_targets", nv, 1)
	valW, valWData := b.input("value_weights", nv, 1)
	tg.reward, tg.cont, tg.headWeight, tg.value, tg.valWeight = rewardData, contData, headWData, valueData, valWData
	tg.rewardLoss = must(loss.MSE(cat(rewards), rewardIn, headW))
	tg.contLoss = must(loss.BCEWithLogits(cat(conts), contIn, headW))
	tg.valLoss = must(loss.MSE(cat(values), valueIn, valW))

	// Collapse guard on the online embeddings of all frames.
	predWeight := 1 - c.GuardWeight
	switch c.Guard {
	case GuardSIGReg:
		var dirs *G.Node
		dirs, tg.dirs = b.input("sigreg_directions", d, c.SIGRegDirections)
		tg.guard = must(loss.SIGReg(z, dirs, c.SIGRegKnots))
	case GuardVICReg:
		tg.guard = must(loss.VICReg(z, loss.VICRegOptions{}))
	default:
		predWeight = 1
	}
	total := b.scale(predLoss, predWeight)
	if tg.guard != nil {
		total = b.add(total, b.scale(tg.guard, c.GuardWeight))
	}
	total = b.add(total, b.scale(tg.rewardLoss, c.RewardWeight))
	total = b.add(total, b.scale(tg.contLoss, c.ContWeight))
	total = b.add(total, b.scale(tg.valLoss, c.ValueWeight))
	tg.total = total

	// Probe decoder on detached latents.
	nd := c.DecoderBatch
	decZ, decZData := b.input("decoder_latents", nd, d)
	decT, decTData := b.input("decoder_targets", nd, m.decodeDim())
	tg.decZ, tg.decTarget = decZData, decTData
	out := b.affine(b.relu(b.affine(decZ, m.dec.l1)), m.dec.out)
	tg.decLoss = must(loss.MSE(out, decT, nil))
	tg.cost = b.add(total, tg.decLoss)

	var nodes G.Nodes
	for _, p := range m.params {
		if p.trained && p.node != nil {
			tg.trained = append(tg.trained, p)
			nodes = append(nodes, p.node)
		}
	}
	if _, err := G.Grad(tg.cost, nodes...); err != nil {
		return nil, fmt.Errorf("worldmodel: gradient of the training graph: %w", err)
	}
	tg.vm = G.NewTapeMachine(g, G.BindDualValues(nodes...))
	return tg, nil
}

// graphLogVar is the effective log-variance log(exp(softBound(raw)) +
// floor) of trunk output t.
func (m *Model) graphLogVar(b graphBuilder, t *G.Node) *G.Node {
	raw := b.affine(t, m.pred.logVar)
	sb := must(loss.SoftBound(raw, m.cfg.MinLogVar, m.cfg.MaxLogVar))
	return must(G.Log(b.add(must(G.Exp(sb)), b.scalar(m.cfg.VarFloor))))
}

// valueSteps is the number of imagined latents ẑ_0 … per sequence that
// the value is trained on: all K for n-step targets, the first (the replay
// latent z_0) for TD(λ) targets, whose imagined rollouts cost K times more
// for every extra step.
func (m *Model) valueSteps(K int) int {
	if m.cfg.ValueTarget == ValueNStep {
		return K
	}
	return 1
}

// graphValue is the online value network on z.
func (m *Model) graphValue(b graphBuilder, z *G.Node) *G.Node {
	v := b.relu(b.affine(z, m.val.l1))
	v = b.relu(b.affine(v, m.val.l2))
	return b.affine(v, m.val.out)
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
