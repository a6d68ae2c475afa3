package loss

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
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

// TestCalibratePITEqualsResiduals: for Gaussians, the coverage from the
// probability integral transform (CalibrateMixture with one component)
// equals the 1σ/2σ coverage of the normalised residuals (Calibrate), and
// so do the NLL and the ECE, for calibrated and for miscalibrated
// predictions.
func TestCalibratePITEqualsResiduals(t *testing.T) {
	const rows, d = 5000, 4
	for _, scale := range []float64{1, 0.25, 3} {
		rng := rand.New(rand.NewPCG(5, uint64(10*scale)))
		target, mean, logVar, _ := calibrationData(rng, rows, d, 0, false)
		lv := make([]float64, len(logVar))
		for i, v := range logVar {
			lv[i] = v + math.Log(scale) // predicted variance = scale × true variance
		}
		res := Calibrate(target, mean, lv, nil, d, 0)
		pit := CalibrateMixture(target, fill(rows, 1), mean, lv, d, 1)
		// The two differ only where a residual lies within rounding of an
		// interval's edge: allow one count of rows·d.
		tol := 1.0 / (rows * d)
		if pit.N != res.N || !near(pit.NLLPerDim, res.NLLPerDim, 1e-12) ||
			math.Abs(pit.Within1-res.Within1) > tol || math.Abs(pit.Within2-res.Within2) > tol ||
			math.Abs(pit.ECE-res.ECE) > tol {
			t.Errorf("variance ×%g: PIT %+v, residuals %+v", scale, pit, res)
		}
		if scale != 1 && res.ECE < 0.05 {
			t.Errorf("variance ×%g: ECE %.4f, the check has no power", scale, res.ECE)
		}
	}
}

// mixtureData draws rows×d targets from known mixtures of M diagonal
// Gaussians with random weights, means N(0, 2²) and log-variances in
// [−2, 0].
func mixtureData(rng *rand.Rand, rows, d, m int) (target, weights, mean, logVar []float64) {
	target = make([]float64, rows*d)
	weights = make([]float64, rows*m)
	mean = make([]float64, rows*m*d)
	logVar = make([]float64, rows*m*d)
	for b := range rows {
		w := weights[b*m : (b+1)*m]
		var sum float64
		for j := range w {
			w[j] = 0.2 + rng.Float64()
			sum += w[j]
		}
		for j := range w {
			w[j] /= sum
		}
		for k := b * m * d; k < (b+1)*m*d; k++ {
			mean[k] = 2 * rng.NormFloat64()
			logVar[k] = -2 * rng.Float64()
		}
		c, u := 0, rng.Float64()
		for c < m-1 && u > w[c] {
			u -= w[c]
			c++
		}
		for i := range d {
			k := (b*m+c)*d + i
			target[b*d+i] = mean[k] + math.Exp(logVar[k]/2)*rng.NormFloat64()
		}
	}
	return target, weights, mean, logVar
}

func TestCalibrateMixture(t *testing.T) {
	const rows, d, m = 20000, 3, 3
	rng := rand.New(rand.NewPCG(8, 42))
	target, weights, mean, logVar := mixtureData(rng, rows, d, m)
	got := CalibrateMixture(target, weights, mean, logVar, d, m)
	// The dimensions of a row share its component, so rows (not rows·d)
	// independent residuals set the tolerance: four binomial standard
	// errors.
	se := func(p float64) float64 { return 4 * math.Sqrt(p*(1-p)/rows) }
	const pIn1, pIn2 = 0.6826894921370859, 0.9544997361036416
	if got.N != rows || math.Abs(got.Within1-pIn1) > se(pIn1) || math.Abs(got.Within2-pIn2) > se(pIn2) || got.ECE > se(0.5) {
		t.Errorf("calibrated mixture: %+v, want coverage %.3f and %.3f ± %.3f, ECE ≤ %.3f", got, pIn1, pIn2, se(pIn1), se(0.5))
	}
	// The NLL is −log of the mixture density, checked against distmv on
	// the first rows.
	var want float64
	const check = 50
	for b := range check {
		var p float64
		for j := range m {
			off := (b*m + j) * d
			cov := mat.NewSymDense(d, nil)
			for i := range d {
				cov.SetSym(i, i, math.Exp(logVar[off+i]))
			}
			n, _ := distmv.NewNormal(mean[off:off+d], cov, nil)
			p += weights[b*m+j] * math.Exp(n.LogProb(target[b*d:(b+1)*d]))
		}
		want -= math.Log(p) / (check * d)
	}
	head := CalibrateMixture(target[:check*d], weights[:check*m], mean[:check*m*d], logVar[:check*m*d], d, m)
	if !near(head.NLLPerDim, want, 1e-12) {
		t.Errorf("NLL per dimension %.15g, distmv %.15g", head.NLLPerDim, want)
	}
	// One Gaussian moment-matched to each mixture (its overall mean and
	// variance) fits worse: higher NLL, and its coverage is off.
	gm, glv := make([]float64, rows*d), make([]float64, rows*d)
	for b := range rows {
		for i := range d {
			var mu, second float64
			for j := range m {
				k := (b*m+j)*d + i
				mu += weights[b*m+j] * mean[k]
				second += weights[b*m+j] * (math.Exp(logVar[k]) + mean[k]*mean[k])
			}
			gm[b*d+i], glv[b*d+i] = mu, math.Log(second-mu*mu)
		}
	}
	single := Calibrate(target, gm, glv, nil, d, 0)
	if single.NLLPerDim < got.NLLPerDim+0.2 || single.ECE < 4*got.ECE {
		t.Errorf("moment-matched Gaussian %+v not clearly worse than the mixture %+v", single, got)
	}
	t.Logf("mixture %+v, moment-matched Gaussian %+v", got, single)
}

func TestCalibrateMixturePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("short weights did not panic")
		}
	}()
	CalibrateMixture(make([]float64, 6), make([]float64, 2), make([]float64, 12), make([]float64, 12), 3, 2)
}
