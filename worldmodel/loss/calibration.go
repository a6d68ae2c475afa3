package loss

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Calibration summarises how well predicted Gaussians fit held-out targets.
//
// The coverage figures use the normalised residuals u_i = (z̄_i − μ_i)/σ_i
// of every dimension of every row, σ_i² = Σ_ii the marginal variance
// (exp(logVar_i) + ‖U_i‖²). For a calibrated model each u_i is N(0, 1),
// so a share p of them lies inside the central interval
// |u| ≤ Φ⁻¹((1 + p)/2) of the standard normal.
type Calibration struct {
	// N is the number of rows.
	N int
	// NLLPerDim is the mean negative log-likelihood per dimension (nats):
	// (1/(N·d)) Σ_rows ℓ with ℓ as in RowNLL.
	NLLPerDim float64
	// Within1 and Within2 are the shares of normalised residuals with
	// |u| ≤ 1 and |u| ≤ 2; a calibrated model has 0.683 and 0.954.
	Within1, Within2 float64
	// ECE is the expected calibration error of the central intervals: the
	// mean over the levels p = 0.1, 0.2, …, 0.9 and 0.95 of
	// |share of |u| ≤ Φ⁻¹((1+p)/2) − p|. 0 is perfect; a model whose
	// variances are 4× too small scores about 0.2.
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
