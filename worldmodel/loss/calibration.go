package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Calibration summarises how well predicted distributions (Gaussians or
// mixtures of Gaussians) fit held-out targets.
//
// The coverage figures come from the probability integral transform (PIT)
// of every dimension of every row: with F_i the CDF of the predicted
// marginal of dimension i, the PIT value q_i = F_i(z̄_i) of a calibrated
// model is uniform on [0, 1], so a share p of them lies in the central
// interval |q − ½| ≤ p/2. For a Gaussian marginal N(μ_i, σ_i²), σ_i² = Σ_ii
// = exp(logVar_i) + ‖U_i‖², q_i = Φ(u_i) with the normalised residual
// u_i = (z̄_i − μ_i)/σ_i, and the interval is |u| ≤ Φ⁻¹((1 + p)/2): the
// usual 1σ and 2σ coverage (Calibrate counts residuals, CalibrateMixture
// PIT values, and both agree for one component). For a mixture the
// marginal CDF is F_i(x) = Σ_m π_m Φ((x − μ_mi)/σ_mi).
type Calibration struct {
	// N is the number of rows.
	N int
	// NLLPerDim is the mean negative log-likelihood per dimension (nats):
	// (1/(N·d)) Σ_rows ℓ with ℓ as in RowNLL.
	NLLPerDim float64
	// Within1 and Within2 are the shares of PIT values in the central
	// intervals of probability P(|N(0,1)| ≤ 1) = 0.683 and P(|N(0,1)| ≤ 2)
	// = 0.954: for a Gaussian, the shares of normalised residuals with
	// |u| ≤ 1 and |u| ≤ 2. A calibrated model has 0.683 and 0.954.
	Within1, Within2 float64
	// ECE is the expected calibration error of the central intervals: the
	// mean over the levels p = 0.1, 0.2, …, 0.9 and 0.95 of |share of
	// |q − ½| ≤ p/2 − p| (for a Gaussian, of |u| ≤ Φ⁻¹((1+p)/2)). 0 is
	// perfect; a model whose variances are 4× too small scores about 0.2.
	ECE float64
}

// calibrationLevels are the central-interval probabilities ECE averages
// over.
func calibrationLevels() [10]float64 {
	return [10]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95}
}

// Calibrate scores predictions of the rows of target (rows×d, row-major)
// by Gaussians with means mean (rows×d), log-variances logVar (rows×d)
// and low-rank factors factor (rows×(d·r), row b holding U_b as d×r
// row-major, as GaussianNLL's factor):
//
//   - a diagonal Gaussian has r = 0 and factor nil;
//   - a deterministic prediction, scored as a Gaussian with Σ = I, has
//     logVar nil as well.
//
// It panics if the lengths do not fit d and r.
func Calibrate(target, mean, logVar, factor []float64, d, r int) Calibration {
	if d < 1 || r < 0 || len(target)%d != 0 || len(mean) != len(target) ||
		(logVar != nil && len(logVar) != len(target)) || len(factor) != len(target)*r {
		panic(fmt.Sprintf("loss: Calibrate: lengths target %d, mean %d, logVar %d, factor %d for d = %d, r = %d",
			len(target), len(mean), len(logVar), len(factor), d, r))
	}
	rows := len(target) / d
	levels := calibrationLevels()
	var halfWidth [len(levels)]float64
	for i, p := range levels {
		halfWidth[i] = distuv.UnitNormal.Quantile((1 + p) / 2)
	}
	var (
		nll            float64
		in1, in2       int
		inside         [len(levels)]int
		lv, u          []float64
		residualsCount = rows * d
	)
	for b := range rows {
		row := target[b*d : (b+1)*d]
		mu := mean[b*d : (b+1)*d]
		if logVar != nil {
			lv = logVar[b*d : (b+1)*d]
		}
		if r > 0 {
			u = factor[b*d*r : (b+1)*d*r]
		}
		nll += RowNLL(row, mu, lv, u, r)
		for i := range d {
			v := 1.0
			if lv != nil {
				v = math.Exp(lv[i])
			}
			for _, x := range u[i*r : (i+1)*r] {
				v += x * x
			}
			a := math.Abs(row[i]-mu[i]) / math.Sqrt(v)
			if a <= 1 {
				in1++
			}
			if a <= 2 {
				in2++
			}
			for k, w := range halfWidth {
				if a <= w {
					inside[k]++
				}
			}
		}
	}
	c := Calibration{N: rows}
	if rows == 0 {
		return c
	}
	n := float64(residualsCount)
	c.NLLPerDim = nll / n
	c.Within1 = float64(in1) / n
	c.Within2 = float64(in2) / n
	for k, p := range levels {
		c.ECE += math.Abs(float64(inside[k])/n-p) / float64(len(levels))
	}
	return c
}

// CalibrateMixture scores predictions of the rows of target (rows×d,
// row-major) by mixtures of M diagonal Gaussians. Row b's mixture has
// weights weights[b·M+m] (non-negative, summing to 1), and component m has
// means mean[(b·M+m)·d+i] and log-variances logVar[(b·M+m)·d+i], the
// layout of MixtureNLL. NLLPerDim is the mean over rows of
//
//	ℓ = −log Σ_m π_m N(z̄; μ_m, diag(exp(logVar_m)))
//
// divided by d (log-sum-exp, shifted by its maximum); the coverage figures
// come from the PIT of each dimension's marginal,
//
//	q_i = Σ_m π_m Φ((z̄_i − μ_mi)/σ_mi).
//
// With M = 1 it equals Calibrate of the same diagonal Gaussians. It panics
// if the lengths do not fit d and M.
func CalibrateMixture(target, weights, mean, logVar []float64, d, m int) Calibration {
	if d < 1 || m < 1 || len(target)%d != 0 || len(weights) != len(target)/d*m ||
		len(mean) != len(target)*m || len(logVar) != len(target)*m {
		panic(fmt.Sprintf("loss: CalibrateMixture: lengths target %d, weights %d, mean %d, logVar %d for d = %d, M = %d",
			len(target), len(weights), len(mean), len(logVar), d, m))
	}
	rows := len(target) / d
	c := Calibration{N: rows}
	if rows == 0 {
		return c
	}
	levels := calibrationLevels()
	p1, p2 := math.Erf(1/math.Sqrt2), math.Erf(math.Sqrt2) // P(|N(0,1)| ≤ 1), ≤ 2
	var (
		nll      float64
		in1, in2 int
		inside   [len(levels)]int
	)
	lp := make([]float64, m)
	sd := make([]float64, m*d)
	for b := range rows {
		z := target[b*d : (b+1)*d]
		pi := weights[b*m : (b+1)*m]
		mu := mean[b*m*d : (b+1)*m*d]
		lv := logVar[b*m*d : (b+1)*m*d]
		mx := math.Inf(-1)
		for j := range m {
			lp[j] = math.Log(pi[j]) - RowNLL(z, mu[j*d:(j+1)*d], lv[j*d:(j+1)*d], nil, 0)
			mx = max(mx, lp[j])
		}
		var sum float64
		for _, x := range lp {
			sum += math.Exp(x - mx)
		}
		nll -= mx + math.Log(sum)
		for k, v := range lv {
			sd[k] = math.Exp(v / 2)
		}
		for i := range d {
			var q float64
			for j := range m {
				q += pi[j] * normalCDF((z[i]-mu[j*d+i])/sd[j*d+i])
			}
			a := 2 * math.Abs(q-0.5) // the PIT value lies in the central interval of level a
			if a <= p1 {
				in1++
			}
			if a <= p2 {
				in2++
			}
			for k, p := range levels {
				if a <= p {
					inside[k]++
				}
			}
		}
	}
	n := float64(rows * d)
	c.NLLPerDim = nll / n
	c.Within1 = float64(in1) / n
	c.Within2 = float64(in2) / n
	for k, p := range levels {
		c.ECE += math.Abs(float64(inside[k])/n-p) / float64(len(levels))
	}
	return c
}

// normalCDF is Φ(x), the standard normal CDF.
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
