package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tol
}

func TestBootstrapMeanKnown(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		x    []float64
		want Interval
		tol  float64
	}{
		// The resampled mean of {0, 1} is 0, ½ or 1 with probabilities
		// ¼, ½, ¼: its 2.5% and 97.5% quantiles are 0 and 1.
		{"two values", []float64{0, 1}, Interval{0.5, 0, 1}, 0},
		{"one value", []float64{3}, Interval{3, 3, 3}, 0},
		{"equal values", []float64{2, 2, 2, 2}, Interval{2, 2, 2}, 1e-15},
		{"empty", nil, Interval{nan, nan, nan}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := BootstrapMean(c.x, 0.95, 4000, rand.New(rand.NewPCG(1, 2)))
			if !near(got.Mean, c.want.Mean, c.tol) || !near(got.Lo, c.want.Lo, c.tol) || !near(got.Hi, c.want.Hi, c.tol) {
				t.Errorf("BootstrapMean(%v) = %+v, want %+v", c.x, got, c.want)
			}
		})
	}
}

// For a large normal sample the percentile bootstrap interval of the mean
// is close to x̄ ± z·s·√((n−1)/n)/√n (the bootstrap uses the plug-in
// variance).
func TestBootstrapMeanNormalSample(t *testing.T) {
	cases := []struct {
		n, resamples int
		level        float64
	}{
		{200, 20000, 0.95},
		{500, 20000, 0.9},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("n=%d level=%g", c.n, c.level), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(c.n)))
			x := make([]float64, c.n)
			for i := range x {
				x[i] = 3 + 2*rng.NormFloat64()
			}
			m, sd := stat.MeanStdDev(x, nil)
			se := sd * math.Sqrt(float64(c.n-1)/float64(c.n)) / math.Sqrt(float64(c.n))
			z := 1.6448536269514722
			if c.level == 0.95 {
				z = 1.959963984540054
			}
			got := BootstrapMean(x, c.level, c.resamples, rng)
			// A quantile estimated from B resamples has a standard error
			// of √(p(1−p)/B)/f(q), about 0.02·se here; 0.1·se also covers
			// the sample's small skewness.
			tol := 0.1 * se
			if !near(got.Lo, m-z*se, tol) || !near(got.Hi, m+z*se, tol) || !near(got.Mean, m, 1e-12) {
				t.Errorf("got %+v, want %.4f ± %.4f (tolerance %.4f)", got, m, z*se, tol)
			}
		})
	}
}

// A 95% interval covers the true mean in about 95% of samples; the
// percentile bootstrap undercovers slightly at n = 30.
func TestBootstrapMeanCoverage(t *testing.T) {
	const reps, n = 400, 30
	rng := rand.New(rand.NewPCG(11, 12))
	covered := 0
	x := make([]float64, n)
	for r := 0; r < reps; r++ {
		for i := range x {
			x[i] = 5 + rng.NormFloat64()
		}
		iv := BootstrapMean(x, 0.95, 1000, rng)
		if iv.Lo <= 5 && 5 <= iv.Hi {
			covered++
		}
	}
	share := float64(covered) / reps
	// Three binomial standard errors, √(0.95·0.05/400) ≈ 0.011, plus
	// 0.02 for the known undercoverage.
	if tol := 3*math.Sqrt(0.95*0.05/reps) + 0.02; math.Abs(share-0.95) > tol {
		t.Errorf("coverage %.3f, want 0.95 ± %.3f", share, tol)
	}
}

func TestBootstrapDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	normal := func(n int, mu float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = mu + rng.NormFloat64()
		}
		return x
	}
	same := normal(40, 0)
	far := normal(20, 3)
	near0 := normal(20, 0)
	cases := []struct {
		name         string
		x, y         []float64
		pLo, pHi     float64
		coversZero   bool
		coversTarget float64
	}{
		{"identical samples", same, same, 0.9, 1, true, 0},
		{"separated", near0, far, 0, 0, false, -3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, p := BootstrapDiff(c.x, c.y, 0.95, 5000, rng)
			if p < c.pLo || p > c.pHi {
				t.Errorf("p = %g, want in [%g, %g]", p, c.pLo, c.pHi)
			}
			if zero := d.Lo <= 0 && 0 <= d.Hi; zero != c.coversZero {
				t.Errorf("interval %+v covers 0: %v, want %v", d, zero, c.coversZero)
			}
			// The interval's half width is about 1.96·√(s_x²/n_x + s_y²/n_y)
			// ≈ 0.62 for the separated samples; ±1 around the true
			// difference is generous.
			if !(d.Lo-1 <= c.coversTarget && c.coversTarget <= d.Hi+1) {
				t.Errorf("interval %+v far from the true difference %g", d, c.coversTarget)
			}
			if !near(d.Mean, Mean(c.x)-Mean(c.y), 1e-12) {
				t.Errorf("difference %g, want %g", d.Mean, Mean(c.x)-Mean(c.y))
			}
		})
	}
	if d, p := BootstrapDiff(nil, []float64{1}, 0.95, 10, rng); !math.IsNaN(d.Mean) || !math.IsNaN(p) {
		t.Errorf("empty sample: %+v, %g; want NaN", d, p)
	}
}

func TestWelchTest(t *testing.T) {
	// Wikipedia, "Welch's t-test", example 1: t = −2.46, ν = 24.99 (25.0),
	// p = 0.021; the p-value 0.021378 comes from numerical integration of
	// Student's t density with that ν.
	a1 := []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	a2 := []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	// With two values each and equal variances ν = 2, where Student's t
	// has the closed form p = 1 − |t|/√(2 + t²); with one variance zero
	// ν = 1 (Cauchy), p = 1 − (2/π)·atan|t|.
	t2 := -3 / math.Sqrt2
	nan := math.NaN()
	cases := []struct {
		name       string
		x, y       []float64
		want       Welch
		tolT, tolP float64
	}{
		{"wikipedia example 1", a1, a2, Welch{-2.46, 24.99, 0.021378}, 0.005, 1e-5},
		{"nu = 2", []float64{0, 2}, []float64{3, 5}, Welch{t2, 2, 1 - math.Abs(t2)/math.Sqrt(2+t2*t2)}, 1e-12, 1e-12},
		{"nu = 1", []float64{0, 2}, []float64{5, 5}, Welch{-4, 1, 1 - 2/math.Pi*math.Atan(4)}, 1e-12, 1e-12},
		{"swapped", []float64{5, 5}, []float64{0, 2}, Welch{4, 1, 1 - 2/math.Pi*math.Atan(4)}, 1e-12, 1e-12},
		{"no spread, equal", []float64{1, 1}, []float64{1, 1, 1}, Welch{0, nan, 1}, 0, 0},
		{"no spread, different", []float64{1, 1}, []float64{2, 2}, Welch{math.Inf(-1), nan, 0}, 0, 0},
		{"one value", []float64{1}, []float64{2, 3}, Welch{nan, nan, nan}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := WelchTest(c.x, c.y)
			tolDF := c.tolT
			if c.name == "wikipedia example 1" {
				tolDF = 0.005
			}
			if !near(got.T, c.want.T, c.tolT) || !near(got.DF, c.want.DF, tolDF) || !near(got.P, c.want.P, c.tolP) {
				t.Errorf("WelchTest = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestAUC(t *testing.T) {
	line := func(a, b float64, steps ...int) []Point {
		c := make([]Point, len(steps))
		for i, s := range steps {
			c[i] = Point{Steps: s, Return: a + b*float64(s)}
		}
		return c
	}
	cases := []struct {
		name  string
		curve []Point
		want  float64
		tol   float64
	}{
		// The trapezoid rule is exact on a line: the mean of a + b·s over
		// [s_1, s_m] is a + b·(s_1 + s_m)/2.
		{"line, even spacing", line(1, 0.01, 100, 200, 300, 400), 1 + 0.01*250, 1e-12},
		{"line, uneven spacing", line(-2, 0.5, 10, 15, 40, 100), -2 + 0.5*55, 1e-12},
		{"constant", line(7, 0, 1000, 2000, 3000), 7, 1e-12},
		// Steps 0, 100, 300 with returns 0, 1, 1: area 50 + 200 = 250
		// over a range of 300.
		{"step", []Point{{Steps: 0, Return: 0}, {Steps: 100, Return: 1}, {Steps: 300, Return: 1}}, 250.0 / 300, 1e-12},
		{"one point", []Point{{Steps: 500, Return: 0.3}}, 0.3, 0},
		{"empty", nil, math.NaN(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := AUC(c.curve); !near(got, c.want, c.tol) {
				t.Errorf("AUC = %.15g, want %.15g", got, c.want)
			}
		})
	}
}

func TestStepsToThreshold(t *testing.T) {
	curve := []Point{{Steps: 100, Return: -300}, {Steps: 200, Return: -250}, {Steps: 300, Return: -180}, {Steps: 400, Return: -150}}
	cases := []struct {
		name      string
		threshold float64
		want      int
		ok        bool
	}{
		{"reached later", -200, 300, true},
		{"reached exactly", -250, 200, true},
		{"reached first", -1000, 100, true},
		{"never", -100, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := StepsToThreshold(curve, c.threshold)
			if got != c.want || ok != c.ok {
				t.Errorf("StepsToThreshold(%g) = %d, %v; want %d, %v", c.threshold, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestDefaultThreshold(t *testing.T) {
	cases := []struct {
		name   string
		finals []float64
		want   float64
	}{
		{"positive", []float64{0.5, 0.2}, 0.45},
		{"negative", []float64{-300, -200}, -220},
		{"zero", []float64{0, -1}, 0},
		{"NaN ignored", []float64{math.NaN(), 1}, 0.9},
		{"none", nil, math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DefaultThreshold(c.finals); !near(got, c.want, 1e-12) {
				t.Errorf("DefaultThreshold(%v) = %g, want %g", c.finals, got, c.want)
			}
		})
	}
}

func TestFloatJSON(t *testing.T) {
	in := struct {
		A Float    `json:"a"`
		I Interval `json:"i"`
		W Welch    `json:"w"`
	}{Float(math.NaN()), Interval{1, math.Inf(-1), 2}, Welch{1, math.NaN(), 0.5}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"a":null,"i":{"mean":1,"lo":null,"hi":2},"w":{"t":1,"df":null,"p":0.5}}`
	if string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	out := in
	out.A, out.I, out.W = 0, Interval{}, Welch{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(out.A)) || !math.IsNaN(out.I.Lo) || out.I.Hi != 2 || !math.IsNaN(out.W.DF) || out.W.P != 0.5 {
		t.Errorf("round trip %+v", out)
	}
}

func ExampleAUC() {
	curve := []Point{{Steps: 1000, Return: 0}, {Steps: 2000, Return: 0.5}, {Steps: 3000, Return: 0.5}}
	fmt.Printf("mean return over training %.3f\n", AUC(curve))
	// Output: mean return over training 0.375
}

func ExampleWelchTest() {
	gaussian := []float64{0.62, 0.55, 0.70, 0.58}
	deterministic := []float64{0.41, 0.50, 0.38, 0.47}
	w := WelchTest(gaussian, deterministic)
	fmt.Printf("t = %.2f, df = %.1f, p = %.4f\n", w.T, w.DF, w.P)
	// Output: t = 4.06, df = 5.8, p = 0.0071
}

func ExampleDefaultThreshold() {
	fmt.Println(DefaultThreshold([]float64{0.6, 0.4}))   // 90% of the best
	fmt.Println(DefaultThreshold([]float64{-180, -250})) // 10% of |best| below it
	// Output:
	// 0.54
	// -198
}
