package loss

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// QuantileHuber returns the quantile Huber loss of QR-DQN (Dabney et al.
// 2018, "Distributional Reinforcement Learning with Quantile Regression",
// eq. 9–10), a scalar node. pred θ (B×M) holds M quantiles per row at the
// midpoints τ_i = (2i − 1)/(2M), i = 1 … M; target y (B×N) holds N samples
// of each row's target distribution; weight w is nil (all ones) or B×1:
//
//	u_bij      = y_bj − θ_bi
//	L_κ(u)     = ½u²               if |u| ≤ κ
//	           = κ(|u| − ½κ)       otherwise
//	ρ^κ_τ(u)   = |τ − 1(u < 0)| · L_κ(u)/κ
//	L          = (1/B) Σ_b w_b (1/(M N)) Σ_i Σ_j ρ^κ_{τ_i}(u_bij)
//
// Its minimiser over θ_bi is the τ_i-quantile of the targets (for κ → 0;
// for κ > 0 the Huber part smooths the kink at u = 0). QR-DQN sums over i
// where this averages, so that the loss's scale does not grow with M: a
// constant factor that moves no minimum. κ must be positive.
func QuantileHuber(pred, target, weight *gorgonia.Node, kappa float64) (*gorgonia.Node, error) {
	if pred == nil || target == nil {
		return nil, fmt.Errorf("loss: QuantileHuber: pred and target are required: %w", ErrShape)
	}
	if !(kappa > 0) || math.IsInf(kappa, 0) {
		return nil, fmt.Errorf("loss: QuantileHuber: κ %g (allowed: finite, > 0): %w", kappa, ErrOption)
	}
	b, m, err := matrixShape("QuantileHuber", "pred", pred)
	if err != nil {
		return nil, err
	}
	tb, n, err := matrixShape("QuantileHuber", "target", target)
	if err != nil {
		return nil, err
	}
	if tb != b {
		return nil, fmt.Errorf("loss: QuantileHuber: target has %d rows, pred %d: %w", tb, b, ErrShape)
	}
	nodes := []*gorgonia.Node{pred, target}
	if weight != nil {
		if err := sameShape("QuantileHuber", "weight", weight, b, 1); err != nil {
			return nil, err
		}
		nodes = append(nodes, weight)
	}
	return applyLoss(quantileKernel{rows: b, m: m, n: n, kappa: kappa}, nodes...)
}

// quantileKernel is QuantileHuber's arithmetic on rows rows of m quantiles
// and n target samples; the inputs are pred, target and optionally weight.
type quantileKernel struct {
	rows, m, n int
	kappa      float64
}

func (k quantileKernel) String() string {
	return fmt.Sprintf("QuantileHuber{rows=%d m=%d n=%d κ=%g}", k.rows, k.m, k.n, k.kappa)
}

func (k quantileKernel) workLen() int { return 0 }

// huber returns ρ^κ_τ(u) and its derivative by u.
func (k quantileKernel) huber(tau, u float64) (l, dl float64) {
	w := tau
	if u < 0 {
		w = 1 - tau
	}
	if a := math.Abs(u); a <= k.kappa {
		return w * 0.5 * u * u / k.kappa, w * u / k.kappa
	}
	if u < 0 {
		return w * (-u - 0.5*k.kappa), -w
	}
	return w * (u - 0.5*k.kappa), w
}

// row returns the row's loss before weighting, and with gp and gy not nil
// writes g times its gradient by the row's quantiles θ and targets y.
func (k quantileKernel) row(theta, y []float64, g float64, gp, gy []float64) float64 {
	norm := 1 / float64(k.m*k.n)
	if gy != nil {
		clear(gy)
	}
	s := 0.0
	for i, th := range theta {
		tau := (float64(2*i) + 1) / float64(2*k.m)
		gi := 0.0
		for j, yj := range y {
			l, dl := k.huber(tau, yj-th)
			s += l
			if gp != nil {
				gi -= dl
				gy[j] += g * norm * dl
			}
		}
		if gp != nil {
			gp[i] = g * norm * gi
		}
	}
	return s * norm
}

func (k quantileKernel) loss(in [][]float64, _ []float64) float64 {
	p, y := in[0], in[1]
	sum := 0.0
	for b := range k.rows {
		l := k.row(p[b*k.m:(b+1)*k.m], y[b*k.n:(b+1)*k.n], 0, nil, nil)
		if len(in) > 2 {
			l *= in[2][b]
		}
		sum += l
	}
	return sum / float64(k.rows)
}

func (k quantileKernel) grad(in [][]float64, g float64, out [][]float64, _ []float64) {
	p, y := in[0], in[1]
	g /= float64(k.rows)
	for b := range k.rows {
		w := 1.0
		if len(in) > 2 {
			w = in[2][b]
		}
		l := k.row(p[b*k.m:(b+1)*k.m], y[b*k.n:(b+1)*k.n], g*w, out[0][b*k.m:(b+1)*k.m], out[1][b*k.n:(b+1)*k.n])
		if len(in) > 2 {
			out[2][b] = g * l
		}
	}
}
