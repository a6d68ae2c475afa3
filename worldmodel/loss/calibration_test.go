package loss

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// calibrationData draws rows×d targets from exactly the predicted Gaussians
// N(μ, diag(exp(logVar)) + U Uᵀ), with μ ~ N(0, 1), logVar ∈ [−1, 1] and
// U entries N(0, 0.5²); unit means logVar nil (Σ = I + U Uᵀ).
func calibrationData(rng *rand.Rand, rows, d, r int, unit bool) (target, mean, logVar, factor []float64) {
	target = make([]float64, rows*d)
	mean = make([]float64, rows*d)
	if !unit {
		logVar = make([]float64, rows*d)
	}
	factor = make([]float64, rows*d*r)
	eta := make([]float64, r)
	for b := range rows {
		for k := range eta {
			eta[k] = rng.NormFloat64()
		}
		for i := range d {
			j := b*d + i
			mean[j] = rng.NormFloat64()
			var lv float64
			if !unit {
				lv = -1 + 2*rng.Float64()
				logVar[j] = lv
			}
			target[j] = mean[j] + math.Exp(lv/2)*rng.NormFloat64()
			for k := range r {
				u := 0.5 * rng.NormFloat64()
				factor[j*r+k] = u
				target[j] += u * eta[k]
			}
		}
	}
	return target, mean, logVar, factor
}

// expectedNLLPerDim returns E[ℓ]/d = ½ (log det Σ / d + 1 + log 2π),
// averaged over the rows.
func expectedNLLPerDim(logVar, factor []float64, rows, d, r int) float64 {
	var sum float64
	for b := range rows {
		lv := make([]float64, d)
		if logVar != nil {
			copy(lv, logVar[b*d:(b+1)*d])
		}
		var ch mat.Cholesky
		ch.Factorize(denseCov(lv, factor[b*d*r:(b+1)*d*r], d, r))
		sum += 0.5 * (ch.LogDet()/float64(d) + 1 + log2Pi)
	}
	return sum / float64(rows)
}

func TestCalibrate(t *testing.T) {
	const rows, d = 20000, 8
	const pIn1, pIn2 = 0.6826894921370859, 0.9544997361036416 // P(|N(0,1)| ≤ 1), ≤ 2
	cases := []struct {
		name string
		r    int
		unit bool
		// n is the number of independent residuals the tolerances assume:
		// rows·d when the dimensions are independent, rows otherwise.
		n int
	}{
		{"diagonal", 0, false, rows * d},
		{"low rank", 2, false, rows},
		{"unit variance", 0, true, rows * d},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			target, mean, logVar, factor := calibrationData(rng, rows, d, c.r, c.unit)
			got := Calibrate(target, mean, logVar, factor, d, c.r)
			if got.N != rows {
				t.Errorf("N = %d, want %d", got.N, rows)
			}
			// Four binomial standard errors.
			se := func(p float64) float64 { return 4 * math.Sqrt(p*(1-p)/float64(c.n)) }
			if math.Abs(got.Within1-pIn1) > se(pIn1) {
				t.Errorf("Within1 = %.4f, want %.4f ± %.4f", got.Within1, pIn1, se(pIn1))
			}
			if math.Abs(got.Within2-pIn2) > se(pIn2) {
				t.Errorf("Within2 = %.4f, want %.4f ± %.4f", got.Within2, pIn2, se(pIn2))
			}
			// Each level's coverage error is within 4 SE (at most se(0.5))
			// with high probability, and ECE is their mean.
			if got.ECE > se(0.5) {
				t.Errorf("ECE = %.4f, want ≤ %.4f", got.ECE, se(0.5))
			}
			// ℓ = ½ (χ²_d + log det Σ + d log 2π): the per-dim mean has
			// standard error sqrt(d/2/rows)/d.
			want := expectedNLLPerDim(logVar, factor, rows, d, c.r)
			if tol := 4 * math.Sqrt(float64(d)/2/rows) / d; math.Abs(got.NLLPerDim-want) > tol {
				t.Errorf("NLLPerDim = %.4f, want %.4f ± %.4f", got.NLLPerDim, want, tol)
			}
		})
	}

	t.Run("variance understated 4x", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 42))
		target, mean, logVar, factor := calibrationData(rng, rows, d, 0, false)
		good := Calibrate(target, mean, logVar, factor, d, 0)
		under := make([]float64, len(logVar))
		for i, lv := range logVar {
			under[i] = lv - math.Log(4)
		}
		bad := Calibrate(target, mean, under, factor, d, 0)
		// Residuals are N(0, 4) in the understated units: P(|u| ≤ 1) =
		// P(|N(0,1)| ≤ 1/2) = 0.383 and P(|u| ≤ 2) = 0.683.
		if math.Abs(bad.Within1-0.3829) > 0.01 || math.Abs(bad.Within2-pIn1) > 0.01 {
			t.Errorf("understated: Within1 = %.4f, Within2 = %.4f, want 0.383, 0.683", bad.Within1, bad.Within2)
		}
		if bad.ECE < 0.15 || bad.ECE < 10*good.ECE {
			t.Errorf("understated ECE %.4f not clearly above calibrated %.4f", bad.ECE, good.ECE)
		}
		if bad.NLLPerDim <= good.NLLPerDim+0.5 {
			t.Errorf("understated NLL/dim %.4f not clearly above calibrated %.4f", bad.NLLPerDim, good.NLLPerDim)
		}
		t.Logf("calibrated %+v, understated %+v", good, bad)
	})
}

func TestCalibrateEmpty(t *testing.T) {
	if got := Calibrate(nil, nil, nil, nil, 4, 0); got != (Calibration{}) {
		t.Errorf("empty input: %+v", got)
	}
}
