package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// tails is a task whose two first actions differ only past the horizon.
// Its latent is (steps taken, 1 if the first action was risky). Every
// step of either action earns reward r and continues with probability c,
// so that the imagined steps of the two are the same; the action value
// q is ½ everywhere. Its M = 10 quantiles are ½ each for a future that
// started with the safe action and (−4, 1, …, 1) for one that started
// with the risky action: the same mean, a bad lower tail. With quantiles
// off (quantiles false) it is a plain action valuer.
type tails struct{ quantiles bool }

const (
	tailsRisky, tailsSafe = 0, 1 // the risky action first, to lose ties
	tailsM                = 10
	tailsReward           = 0.1
	tailsCont             = 0.9
	tailsBad              = -4.0
)

// tailsAtoms are the quantiles of a risky and of a safe future.
func tailsAtoms(risky bool) []float64 {
	out := make([]float64, tailsM)
	for j := range out {
		switch {
		case !risky:
			out[j] = 0.5
		case j == 0:
			out[j] = tailsBad
		default:
			out[j] = 1
		}
	}
	return out
}

func (tails) LatentDim() int { return 2 }
func (tails) ActionDim() int { return 2 }
func (tails) Step(next, reward, cont, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	for r := range rows {
		next[2*r], next[2*r+1] = z[2*r]+1, z[2*r+1]
		if z[2*r] == 0 && a[2*r+tailsRisky] == 1 {
			next[2*r+1] = 1
		}
		reward[r], cont[r] = tailsReward, tailsCont
	}
}
func (tails) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }
func (tails) HasActionValue() bool             { return true }
func (tails) ActionValue(dst, _, _ []float32, rows int) {
	for r := range rows {
		dst[r] = 0.5
	}
}
func (m tails) QuantileCount() int {
	if m.quantiles {
		return tailsM
	}
	return 0
}
func (tails) ActionValueQuantiles(dst, z, a []float32, rows int) {
	for r := range rows {
		risky := z[2*r+1] == 1 || (z[2*r] == 0 && a[2*r+tailsRisky] == 1)
		for j, v := range tailsAtoms(risky) {
			dst[r*tailsM+j] = float32(v)
		}
	}
}

// tailsScore is the risk measure of a future's atoms on tails (the K
// futures are all alike).
func tailsScore(risk Risk, risky bool, h int, gamma, lambda float64) float64 {
	return risk.Aggregate(tailsReturns(risky, h, gamma, lambda))
}

// tailsReturns are the atoms of a future on tails, from the formulas of
// the package documentation: per atom j the λ-weighted h-step returns
// G⁽ʰ⁾_j = Σ_{i<h−1} (γc)^i r + (γc)^{h−1} θ_j.
func tailsReturns(risky bool, h int, gamma, lambda float64) []float64 {
	theta := tailsAtoms(risky)
	gc := gamma * tailsCont
	atoms := make([]float64, tailsM)
	for j := range atoms {
		step := func(n int) float64 { // G⁽ⁿ⁾_j
			g := 0.0
			for i := range n - 1 {
				g += math.Pow(gc, float64(i)) * tailsReward
			}
			return g + math.Pow(gc, float64(n-1))*theta[j]
		}
		v := math.Pow(lambda, float64(h-1)) * step(h)
		for n := 1; n < h; n++ {
			v += (1 - lambda) * math.Pow(lambda, float64(n-1)) * step(n)
		}
		atoms[j] = v
	}
	return atoms
}

// TestQuantilesReachPastTheHorizon checks that a risk measure sees the
// action value's quantiles: on tails, whose two first actions have the
// same imagined steps and the same mean value, cvar:0.1 takes the safe
// action by the atoms' lower tail, for CEM and Rollout, with H = 1 and
// H = 3, with and without TD(λ) scores; the mean of the atoms scores both
// alike, and so does cvar without quantiles, whose K futures are all
// alike (the risky action then wins the tie as the lower index).
func TestQuantilesReachPastTheHorizon(t *testing.T) {
	const gamma = 0.9
	cvar := Risk{Kind: RiskCVaR, Level: 0.1}
	for _, method := range []Method{CEM, Rollout} {
		for _, h := range []int{1, 3} {
			for _, lambda := range []float64{1, 0.5} {
				if h == 1 && lambda < 1 {
					continue
				}
				name := fmt.Sprintf("%s H%d λ%g", method, h, lambda)
				cfg := Config{Method: method, Horizon: h, Samples: 3, Candidates: 32, Iterations: 3, Discount: gamma, Lambda: lambda}
				t.Run(name+" cvar", func(t *testing.T) {
					cfg := cfg
					cfg.Risk = cvar
					p := mustNew(t, cfg, ActionSpec{Discrete: 2}, tails{quantiles: true})
					a := p.Plan([]float32{0, 0}, rand.New(rand.NewPCG(1, 2)))
					if a[0] != tailsSafe {
						t.Errorf("action %v, want the safe %d", a[0], tailsSafe)
					}
					safe, risky := tailsScore(cvar, false, h, gamma, lambda), tailsScore(cvar, true, h, gamma, lambda)
					if !(safe > risky+0.1) {
						t.Fatalf("closed forms: safe %g, risky %g: the check has no power", safe, risky)
					}
					if got := p.Score(); math.Abs(got-safe) > 1e-5 {
						t.Errorf("score %.7g, want the safe action's %.7g", got, safe)
					}
					if method == Rollout {
						if got := p.scores[tailsRisky]; math.Abs(got-risky) > 1e-5 {
							t.Errorf("risky action's score %.7g, want %.7g", got, risky)
						}
					}
				})
				for _, tc := range []struct {
					what      string
					risk      Risk
					quantiles bool
				}{
					{"mean", Risk{}, true},
					{"cvar without quantiles", cvar, false},
				} {
					t.Run(name+" "+tc.what, func(t *testing.T) {
						cfg := cfg
						cfg.Risk = tc.risk
						p := mustNew(t, cfg, ActionSpec{Discrete: 2}, tails{quantiles: tc.quantiles})
						p.Plan([]float32{0, 0}, rand.New(rand.NewPCG(1, 2)))
						want := tailsScore(Risk{}, false, h, gamma, lambda)
						scores := p.scores
						if method == Rollout {
							scores = scores[:2] // one per first action
						}
						for i, got := range scores {
							if math.Abs(got-want) > 1e-5 {
								t.Fatalf("candidate %d scores %.7g, want %.7g for every one", i, got, want)
							}
						}
						// Without quantiles the K futures are exactly alike; the
						// mean of M atoms may differ in the last bit.
						if method == Rollout && !tc.quantiles && p.action[0] != tailsRisky {
							t.Errorf("action %v, want %d by the tie-break", p.action[0], tailsRisky)
						}
					})
				}
			}
		}
	}
}

// offMean is tails whose scalar action value is far from its quantiles'
// mean.
type offMean struct{ tails }

func (offMean) ActionValue(dst, _, _ []float32, rows int) {
	for r := range rows {
		dst[r] = -7
	}
}

// TestMeanRiskReadsTheQuantilesMean checks that with the mean risk the
// mean of the atoms takes the place of the scalar q.
func TestMeanRiskReadsTheQuantilesMean(t *testing.T) {
	const gamma = 0.9
	for _, method := range []Method{CEM, Rollout} {
		for _, h := range []int{1, 3} {
			p := mustNew(t, Config{Method: method, Horizon: h, Samples: 2, Candidates: 8, Iterations: 1, Discount: gamma}, ActionSpec{Discrete: 2}, offMean{tails{quantiles: true}})
			p.Plan([]float32{0, 0}, rand.New(rand.NewPCG(1, 2)))
			want := tailsScore(Risk{}, false, h, gamma, 1)
			if got := p.Score(); math.Abs(got-want) > 1e-5 {
				t.Errorf("%s H%d: score %.7g, want the quantiles' mean %.7g (q is −7)", method, h, got, want)
			}
		}
	}
}
