package compare

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is an estimate with the bounds of its confidence interval.
type Interval struct {
	Mean float64 `json:"mean"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
}

// Mean returns the arithmetic mean of x, NaN for an empty x.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return stat.Mean(x, nil)
}

// BootstrapMean returns the mean of x with its percentile bootstrap
// confidence interval at the given level (0.95 for 95%) from resamples
// resamples drawn with rng (Efron & Tibshirani 1993, ch. 13):
//
//	x̄*_b = (1/n) Σ_i x_{J_bi},   J_bi ~ Uniform{1, …, n},   b = 1 … B
//	lo, hi = the (1−level)/2 and (1+level)/2 empirical quantiles of x̄*_1 … x̄*_B
//
// with n = len(x) and B = resamples. One value (or n equal ones) gives
// lo = hi = x̄; an empty x gives NaN everywhere. It panics if level is not
// in (0, 1) or resamples < 1.
func BootstrapMean(x []float64, level float64, resamples int, rng *rand.Rand) Interval {
	checkBootstrap(level, resamples)
	if len(x) == 0 {
		return Interval{math.NaN(), math.NaN(), math.NaN()}
	}
	m := Mean(x)
	if len(x) == 1 {
		return Interval{m, m, m}
	}
	means := make([]float64, resamples)
	for b := range means {
		means[b] = resampleMean(x, rng)
	}
	lo, hi := percentiles(means, level)
	return Interval{m, lo, hi}
}

// BootstrapDiff compares the means of two independent samples by
// resampling each with replacement (B = resamples times, rng):
//
//	d̂ = x̄ − ȳ,   d*_b = x̄*_b − ȳ*_b
//	lo, hi = the (1−level)/2 and (1+level)/2 empirical quantiles of d*
//	p = min(1, 2·min(#{d*_b ≤ 0}, #{d*_b ≥ 0}) / B)
//
// p is the two-sided bootstrap p-value of "no difference" obtained by
// inverting the percentile interval: the smallest 1−level whose interval
// touches 0. An empty sample gives NaN everywhere. It panics if level is
// not in (0, 1) or resamples < 1.
func BootstrapDiff(x, y []float64, level float64, resamples int, rng *rand.Rand) (d Interval, p float64) {
	checkBootstrap(level, resamples)
	if len(x) == 0 || len(y) == 0 {
		return Interval{math.NaN(), math.NaN(), math.NaN()}, math.NaN()
	}
	diffs := make([]float64, resamples)
	below, above := 0, 0
	for b := range diffs {
		v := resampleMean(x, rng) - resampleMean(y, rng)
		diffs[b] = v
		if v <= 0 {
			below++
		}
		if v >= 0 {
			above++
		}
	}
	lo, hi := percentiles(diffs, level)
	p = math.Min(1, 2*float64(min(below, above))/float64(resamples))
	return Interval{Mean(x) - Mean(y), lo, hi}, p
}

func checkBootstrap(level float64, resamples int) {
	if !(level > 0 && level < 1) || resamples < 1 {
		panic("compare: bootstrap needs a level in (0, 1) and at least one resample")
	}
}

// resampleMean is the mean of one resample of x with replacement.
func resampleMean(x []float64, rng *rand.Rand) float64 {
	s := 0.0
	for range x {
		s += x[rng.IntN(len(x))]
	}
	return s / float64(len(x))
}

// percentiles returns the (1−level)/2 and (1+level)/2 empirical quantiles
// of v (sorted in place).
func percentiles(v []float64, level float64) (lo, hi float64) {
	slices.Sort(v)
	a := (1 - level) / 2
	return stat.Quantile(a, stat.Empirical, v, nil), stat.Quantile(1-a, stat.Empirical, v, nil)
}

// Welch is the result of Welch's unequal-variances t-test.
type Welch struct {
	// T is the statistic, DF the Welch–Satterthwaite degrees of freedom
	// and P the two-sided p-value.
	T  float64 `json:"t"`
	DF float64 `json:"df"`
	P  float64 `json:"p"`
}

// WelchTest tests whether two independent samples have equal means
// without assuming equal variances (Welch 1947):
//
//	t = (x̄ − ȳ) / √(s_x²/n_x + s_y²/n_y)
//	ν = (s_x²/n_x + s_y²/n_y)² / ( (s_x²/n_x)²/(n_x−1) + (s_y²/n_y)²/(n_y−1) )
//	p = 2·(1 − F_ν(|t|))
//
// where s² are the unbiased sample variances and F_ν is the CDF of
// Student's t with ν degrees of freedom (gonum's distuv.StudentsT).
// Samples of fewer than two values give NaN. When both variances are zero
// the test is degenerate: t = ±Inf and p = 0 if the means differ, t = 0
// and p = 1 if they are equal, ν NaN.
func WelchTest(x, y []float64) Welch {
	nx, ny := float64(len(x)), float64(len(y))
	if len(x) < 2 || len(y) < 2 {
		return Welch{math.NaN(), math.NaN(), math.NaN()}
	}
	mx, vx := stat.MeanVariance(x, nil)
	my, vy := stat.MeanVariance(y, nil)
	ax, ay := vx/nx, vy/ny
	se := math.Sqrt(ax + ay)
	if se == 0 {
		if mx == my {
			return Welch{0, math.NaN(), 1}
		}
		return Welch{math.Copysign(math.Inf(1), mx-my), math.NaN(), 0}
	}
	t := (mx - my) / se
	df := (ax + ay) * (ax + ay) / (ax*ax/(nx-1) + ay*ay/(ny-1))
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return Welch{T: t, DF: df, P: 2 * st.Survival(math.Abs(t))}
}

// Point is one evaluation of a learning curve.
type Point struct {
	// Steps is the number of environment steps trained.
	Steps int
	// Return is the mean evaluation return; ReturnLo and ReturnHi bound
	// its 95% interval (see agent.Eval), NaN where the log lacks them.
	Return, ReturnLo, ReturnHi float64
	// Success is the evaluation's success rate, NaN where the environment
	// has no goal; SuccessLo and SuccessHi bound its 95% Wilson interval
	// (agent.WilsonInterval), NaN where unknown.
	Success, SuccessLo, SuccessHi float64
}

// AUC returns the area under a learning curve normalised by its step
// range, so that it is the curve's mean return over training
// (trapezoid rule over the evaluation points):
//
//	AUC = (1/(s_m − s_1)) Σ_{i<m} (s_{i+1} − s_i)·(R_i + R_{i+1})/2
//
// for points (s_i, R_i), i = 1 … m, sorted by steps. One point gives its
// return; none gives NaN.
func AUC(curve []Point) float64 {
	switch len(curve) {
	case 0:
		return math.NaN()
	case 1:
		return curve[0].Return
	}
	area := 0.0
	for i := 1; i < len(curve); i++ {
		a, b := curve[i-1], curve[i]
		area += float64(b.Steps-a.Steps) * (a.Return + b.Return) / 2
	}
	span := float64(curve[len(curve)-1].Steps - curve[0].Steps)
	if span == 0 {
		return Mean(returns(curve))
	}
	return area / span
}

// StepsToThreshold returns the environment steps of the first evaluation
// whose return reaches the threshold (R_i ≥ threshold), and false if none
// does. curve is sorted by steps.
func StepsToThreshold(curve []Point, threshold float64) (int, bool) {
	for _, p := range curve {
		if p.Return >= threshold {
			return p.Steps, true
		}
	}
	return 0, false
}

// DefaultThreshold is the return a run must reach to count as having
// learned, given the final mean returns of the dynamics compared: 90% of
// the best of them, made sensible for returns of any sign,
//
//	threshold = best − 0.1·|best|,   best = max_k final_k
//
// so 0.9·best for a positive best (FrozenLake's success rate, CartPole's
// balance time) and 1.1·best for a negative one (Pendulum's cost, where
// −200 gives −220): always 10% of |best| below the best. It is NaN if no
// final mean is finite.
func DefaultThreshold(finals []float64) float64 {
	best := math.Inf(-1)
	for _, f := range finals {
		if !math.IsNaN(f) && f > best {
			best = f
		}
	}
	if math.IsInf(best, 0) {
		return math.NaN()
	}
	return best - 0.1*math.Abs(best)
}

func returns(curve []Point) []float64 {
	out := make([]float64, len(curve))
	for i, p := range curve {
		out[i] = p.Return
	}
	return out
}

// MarshalJSON writes the interval with non-finite bounds as null.
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mean Float `json:"mean"`
		Lo   Float `json:"lo"`
		Hi   Float `json:"hi"`
	}{Float(iv.Mean), Float(iv.Lo), Float(iv.Hi)})
}

// MarshalJSON writes the test with non-finite values as null.
func (w Welch) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		T  Float `json:"t"`
		DF Float `json:"df"`
		P  Float `json:"p"`
	}{Float(w.T), Float(w.DF), Float(w.P)})
}

// UnmarshalJSON reads an interval written by MarshalJSON (null as NaN).
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var v struct {
		Mean Float `json:"mean"`
		Lo   Float `json:"lo"`
		Hi   Float `json:"hi"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*iv = Interval{float64(v.Mean), float64(v.Lo), float64(v.Hi)}
	return nil
}

// UnmarshalJSON reads a test written by MarshalJSON (null as NaN).
func (w *Welch) UnmarshalJSON(b []byte) error {
	var v struct {
		T  Float `json:"t"`
		DF Float `json:"df"`
		P  Float `json:"p"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = Welch{float64(v.T), float64(v.DF), float64(v.P)}
	return nil
}
