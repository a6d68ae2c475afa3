package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
)

// Probe is a linear read-out of the state vector from a latent, fitted by
// ridge regression as experiments/probe fits it:
//
//	ŝ(z) = Wᵀ [z; 1],   W = (XᵀX + λ n I′)⁻¹ XᵀY
//
// where X is the n×(d+1) matrix of fitted latents z (d values each) with a
// column of ones, Y the n×m matrix of their true state vectors, λ the
// ridge and I′ the identity with a zero at the intercept.
type Probe struct {
	d, m int
	w    []float64 // (d+1)×m, row-major: row j weighs z_j, row d is the intercept
}

// FitProbe fits a Probe to n latents z (n×d) and their states s (n×m).
func FitProbe(z []float32, s []float64, n, d, m int, ridge float64) (*Probe, error) {
	if len(z) != n*d || len(s) != n*m {
		panic(fmt.Sprintf("fidelity: FitProbe with %d latent and %d state values for %d rows of %d and %d", len(z), len(s), n, d, m))
	}
	if n < d+1 {
		return nil, fmt.Errorf("probe: %d observations for a %d-dimensional latent", n, d)
	}
	X := mat.NewDense(n, d+1, nil)
	for i := range n {
		for j := range d {
			X.Set(i, j, float64(z[i*d+j]))
		}
		X.Set(i, d, 1)
	}
	Y := mat.NewDense(n, m, s)
	var xtx, xty, w mat.Dense
	xtx.Mul(X.T(), X)
	for j := range d {
		xtx.Set(j, j, xtx.At(j, j)+ridge*float64(n))
	}
	xty.Mul(X.T(), Y)
	if err := w.Solve(&xtx, &xty); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return &Probe{d: d, m: m, w: mat.DenseCopyOf(&w).RawMatrix().Data}, nil
}

// Apply writes ŝ(z) of one latent into dst (m values).
func (p *Probe) Apply(dst []float64, z []float32) {
	d, m := p.d, p.m
	copy(dst[:m], p.w[d*m:(d+1)*m])
	for j, v := range z[:d] {
		row := p.w[j*m : (j+1)*m]
		for i, w := range row {
			dst[i] += float64(v) * w
		}
	}
}

// Episode is a played episode as the probe score reads it: the latent the
// run sees at each step t = 0 … T (with its frame stack), the true state
// vector then, and the T actions taken, in the model's form.
type Episode struct {
	Z []float32 // (T+1)×d
	S []float64 // (T+1)×m
	A []float32 // T×ActionDim
	T int
}

// Encoder turns an episode's observations into latents as a run does when
// it acts: Reset takes the first observation, Push each next one, and both
// return the latent of the observations so far (valid until the next
// call).
type Encoder interface {
	Reset(o envs.Observation) []float32
	Push(o envs.Observation) []float32
}

// Play plays one episode per seed with uniformly random actions
// (agent.RandomAction from rng) until it terminates or is truncated, and
// records it. d is the latent width.
func Play(env envs.Env, enc Encoder, d int, seeds []uint64, rng *rand.Rand) []Episode {
	sim := env.Simulator()
	space := env.ActionSpace()
	m := sim.VectorSpace().Dim()
	vec := make([]float64, m)
	act := make([]float64, space.Dim())
	A := modelActionDim(space)
	row := make([]float32, A)
	var eps []Episode
	for _, seed := range seeds {
		var e Episode
		record := func(z []float32) {
			if len(z) != d {
				panic(fmt.Sprintf("fidelity: latent of %d values, want %d", len(z), d))
			}
			e.Z = append(e.Z, z...)
			sim.Vector(vec)
			e.S = append(e.S, vec...)
		}
		record(enc.Reset(env.Reset(seed)))
		for {
			agent.RandomAction(act, space, rng)
			agent.EncodeAction(row, act, space)
			e.A = append(e.A, row...)
			e.T++
			o, _, term, trunc := env.Step(act)
			record(enc.Push(o))
			if term || trunc {
				break
			}
		}
		eps = append(eps, e)
	}
	return eps
}

// modelActionDim is the width of the model's action row for a space: the
// number of actions (one-hot) or the box's dimension.
func modelActionDim(space envs.Space) int {
	if space.Kind == envs.KindDiscrete {
		return space.N
	}
	return space.Dim()
}

// ProbeOptions are the settings of a probe score. The zero value of a
// field means the default in its comment.
type ProbeOptions struct {
	// Horizon is the last number of steps ahead scored. Default 5.
	Horizon int
	// Samples is the number K of imagined rollouts per start. Default 256.
	Samples int
	// Starts is the most start steps scored, drawn uniformly from all
	// steps of the episodes. Default 200.
	Starts int
}

func (o ProbeOptions) withDefaults() ProbeOptions {
	if o.Horizon == 0 {
		o.Horizon = 5
	}
	if o.Samples == 0 {
		o.Samples = 256
	}
	if o.Starts == 0 {
		o.Starts = 200
	}
	return o
}

// ProbeScore is the probe's error h steps ahead, per element j of the
// state vector, over the pairs (start step t, actions a_{t+1} … a_{t+h}
// the episode took) whose episode lasts h more steps:
//
//	RMSE_j       = √ mean_t (ŝ_j(z̄_h) − s_{t+h,j})²,        z̄_h = (1/K) Σ_k ẑ_h^k
//	SampleRMSE_j = √ mean_t (1/K) Σ_k (ŝ_j(ẑ_h^k) − s_{t+h,j})²
//	RealRMSE_j   = √ mean_t (ŝ_j(z_{t+h}) − s_{t+h,j})²
//
// where ẑ_h^k is rollout k of the model from the real latent z_t under the
// episode's actions, z_{t+h} the real latent of the true state s_{t+h},
// and ŝ the Probe. RealRMSE is what exact dynamics would score: the
// probe's own error. The normalised forms divide each element's error by
// its standard deviation over the episodes' states and average over the
// elements that vary.
type ProbeScore struct {
	H           int       `json:"h"`
	Pairs       int       `json:"pairs"`
	RMSE        []float64 `json:"rmse"`
	SampleRMSE  []float64 `json:"sample_rmse"`
	RealRMSE    []float64 `json:"real_rmse"`
	NRMSE       float64   `json:"nrmse"`
	SampleNRMSE float64   `json:"sample_nrmse"`
	RealNRMSE   float64   `json:"real_nrmse"`
}

// ScoreProbe scores the model's imagined futures through the probe p on
// the episodes, for h = 1 … opts.Horizon. The start steps are drawn from
// rng first, then the rollouts.
func ScoreProbe(m Model, p *Probe, eps []Episode, opts ProbeOptions, rng *rand.Rand) []ProbeScore {
	opts = opts.withDefaults()
	d, A, ms, K, H := m.LatentDim(), m.ActionDim(), p.m, opts.Samples, opts.Horizon
	type start struct{ e, t int }
	var all []start
	for e, ep := range eps {
		for t := range ep.T {
			all = append(all, start{e, t})
		}
	}
	if len(all) > opts.Starts {
		perm := rng.Perm(len(all))[:opts.Starts]
		picked := make([]start, len(perm))
		for i, j := range perm {
			picked[i] = all[j]
		}
		all = picked
	}
	sd := stateSD(eps, ms)
	mean, sample, onReal := make([][]float64, H), make([][]float64, H), make([][]float64, H)
	pairs := make([]int, H)
	for h := range H {
		mean[h], sample[h], onReal[h] = make([]float64, ms), make([]float64, ms), make([]float64, ms)
	}
	z, next := make([]float32, K*d), make([]float32, K*d)
	act := make([]float32, K*A)
	zbar := make([]float32, d)
	s := make([]float64, ms)
	for _, st := range all {
		ep := eps[st.e]
		for k := range K {
			copy(z[k*d:(k+1)*d], ep.Z[st.t*d:(st.t+1)*d])
		}
		for h := range min(H, ep.T-st.t) {
			t := st.t + h // the action a_t leads to step t+1
			for k := range K {
				copy(act[k*A:(k+1)*A], ep.A[t*A:(t+1)*A])
			}
			m.Step(next, nil, nil, z, act, K, true, rng)
			z, next = next, z
			truth := ep.S[(t+1)*ms : (t+2)*ms]
			clear(zbar)
			for k := range K {
				p.Apply(s, z[k*d:(k+1)*d])
				for j, v := range s {
					e := v - truth[j]
					sample[h][j] += e * e / float64(K)
				}
				for j, v := range z[k*d : (k+1)*d] {
					zbar[j] += v / float32(K)
				}
			}
			p.Apply(s, zbar)
			for j, v := range s {
				mean[h][j] += (v - truth[j]) * (v - truth[j])
			}
			p.Apply(s, ep.Z[(t+1)*d:(t+2)*d])
			for j, v := range s {
				onReal[h][j] += (v - truth[j]) * (v - truth[j])
			}
			pairs[h]++
		}
	}
	out := make([]ProbeScore, H)
	for h := range H {
		n := float64(max(pairs[h], 1))
		for j := range ms {
			mean[h][j] = math.Sqrt(mean[h][j] / n)
			sample[h][j] = math.Sqrt(sample[h][j] / n)
			onReal[h][j] = math.Sqrt(onReal[h][j] / n)
		}
		out[h] = ProbeScore{H: h + 1, Pairs: pairs[h], RMSE: mean[h], SampleRMSE: sample[h], RealRMSE: onReal[h],
			NRMSE: normalised(mean[h], sd), SampleNRMSE: normalised(sample[h], sd), RealNRMSE: normalised(onReal[h], sd)}
	}
	return out
}

// stateSD is the standard deviation of each state element over all steps
// of the episodes.
func stateSD(eps []Episode, m int) []float64 {
	sum, ss := make([]float64, m), make([]float64, m)
	n := 0.0
	for _, ep := range eps {
		for i, v := range ep.S {
			sum[i%m] += v
			ss[i%m] += v * v
		}
		n += float64(len(ep.S) / m)
	}
	sd := make([]float64, m)
	for j := range m {
		mu := sum[j] / n
		sd[j] = math.Sqrt(max(ss[j]/n-mu*mu, 0))
	}
	return sd
}

// normalised is the mean over the elements with sd > 0 of rmse_j / sd_j.
func normalised(rmse, sd []float64) float64 {
	s, n := 0.0, 0
	for j, e := range rmse {
		if sd[j] > 0 {
			s += e / sd[j]
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}
