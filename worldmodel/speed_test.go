package worldmodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// patchifyReference is the direct form of patchify: patch by patch, then
// channel, ky, kx.
func (m *Model) patchifyReference(dst, obs []float32, rows int) {
	h, w, p := m.spec.Frame[0], m.spec.Frame[1], m.cfg.Patch
	hw := h * w
	in := m.spec.InputDim()
	o := 0
	for r := 0; r < rows; r++ {
		x := obs[r*in : (r+1)*in]
		for py := 0; py < m.patchRows; py++ {
			for px := 0; px < m.patchCols; px++ {
				for ch := 0; ch < 3*m.spec.Stack; ch++ {
					for ky := 0; ky < p; ky++ {
						for kx := 0; kx < p; kx++ {
							off := (py*p+ky)*w + px*p + kx
							dst[o] = (x[ch*hw+off] - m.norm.mean[(ch%3)*hw+off]) * m.norm.inv
							o++
						}
					}
				}
			}
		}
	}
}

func TestPatchifyMatchesReference(t *testing.T) {
	for _, c := range []struct {
		h, w, patch, stack int
	}{{16, 16, 4, 1}, {32, 32, 4, 2}, {18, 13, 4, 1}, {16, 24, 8, 1}, {15, 15, 3, 3}} {
		t.Run(fmt.Sprintf("%dx%d/P%d/F%d", c.h, c.w, c.patch, c.stack), func(t *testing.T) {
			cfg, _ := Preset("debug")
			cfg.Patch, cfg.FrameStack = c.patch, c.stack
			m, err := New(cfg, Spec{Frame: [3]int{c.h, c.w, 3}, ActionDim: 2, Discrete: true}, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			const rows = 3
			obs := make([]float32, rows*m.spec.InputDim())
			for i := range obs {
				obs[i] = rng.Float32()
			}
			m.norm.add(obs, 100)
			got := make([]float32, rows*m.nPatch*m.patchLen)
			want := make([]float32, len(got))
			m.patchify(got, obs, rows)
			m.patchifyReference(want, obs, rows)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("value %d: %g, want %g", i, got[i], want[i])
				}
			}
		})
	}
}

// Step computes rows that share one latent once per distinct action; the
// results equal those of rows computed one by one, and the samples use the
// same noise in the same order.
func TestStepSharedLatent(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
	}{
		{"gaussian", nil},
		{"gaussian rank 2", func(c *Config) { c.Rank = 2 }},
		{"deterministic", func(c *Config) { c.Dynamics = DynamicsDeterministic }},
		{"mixture", func(c *Config) { c.Dynamics = DynamicsMixture }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			m, _ := testModel(t, c.mod, false, 2, rng)
			const rows = 64
			d, A := m.cfg.LatentDim, m.spec.ActionDim
			z0 := make([]float32, d)
			for i := range z0 {
				z0[i] = float32(rng.NormFloat64())
			}
			z, a := make([]float32, rows*d), make([]float32, rows*A)
			for i := 0; i < rows; i++ {
				copy(z[i*d:], z0)
				a[i*A+(i/3)%A] = 1
			}
			if n, src := m.shareLatent(z, a, rows); src == nil || n != A {
				t.Fatalf("shareLatent found %d rows (src %v), want %d", n, src != nil, A)
			}
			for _, sample := range []bool{false, true} {
				next, rew, cont := make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
				m.Step(next, rew, cont, z, a, rows, sample, rand.New(rand.NewPCG(7, 8)))
				one := rand.New(rand.NewPCG(7, 8))
				n1, r1, c1 := make([]float32, d), make([]float32, 1), make([]float32, 1)
				for i := 0; i < rows; i++ {
					m.Step(n1, r1, c1, z0, a[i*A:(i+1)*A], 1, sample, one)
					for j := 0; j < d; j++ {
						if !near(float64(next[i*d+j]), float64(n1[j]), 1e-6) {
							t.Fatalf("sample %v row %d: next[%d] = %g, one by one %g", sample, i, j, next[i*d+j], n1[j])
						}
					}
					if !near(float64(rew[i]), float64(r1[0]), 1e-6) || !near(float64(cont[i]), float64(c1[0]), 1e-6) {
						t.Fatalf("sample %v row %d: reward %g cont %g, one by one %g %g", sample, i, rew[i], cont[i], r1[0], c1[0])
					}
				}
			}
		})
	}
	t.Run("distinct latents", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		m, _ := testModel(t, nil, false, 0, rng)
		z := make([]float32, 16*m.cfg.LatentDim)
		a := make([]float32, 16*m.spec.ActionDim)
		z[len(z)-1] = 1 // the last row differs
		if n, src := m.shareLatent(z, a, 16); src != nil || n != 16 {
			t.Fatalf("shareLatent shares rows with different latents: %d rows", n)
		}
	})
}

// countJob records how often each row is computed.
type countJob struct{ hits []atomic.Int32 }

func (j *countJob) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		j.hits[i].Add(1)
	}
}

// The pool computes every row exactly once, however the chunks are shared
// between the caller and the helpers.
func TestPoolSplit(t *testing.T) {
	p := newPool()
	if p == nil {
		t.Fatal("newPool on a machine of one core; run the tests with GOMAXPROCS ≥ 2")
	}
	defer p.close()
	p.seq = 1<<32 - 3 // the sequence number wraps during the test
	for _, n := range []int{1, 2, 3, 7, 16, 64, 1000} {
		for rep := 0; rep < 200; rep++ {
			j := &countJob{hits: make([]atomic.Int32, n)}
			p.split(n, 1, minParallelWork, j)
			for i := range j.hits {
				if h := j.hits[i].Load(); h != 1 {
					t.Fatalf("n %d: row %d computed %d times", n, i, h)
				}
			}
		}
	}
}

// Splitting the inference path over the cores changes results by float32
// rounding at most: BLAS kernels may sum a row's products in another
// order at another position in a block.
func TestParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cfg := func(c *Config) { c.LatentDim, c.Hidden = 32, 128 }
	par, batch := testModel(t, cfg, true, 0, rng)
	ser, _ := testModel(t, cfg, true, 0, rand.New(rand.NewPCG(11, 12)))
	ser.noPool = true
	b := batch(64, 1)
	const rows = 128
	d := par.cfg.LatentDim
	for _, m := range []*Model{par, ser} {
		m.norm.add(b.Obs, 1000)
	}
	zp, zs := make([]float32, rows*d), make([]float32, rows*d)
	par.Encode(zp, b.Obs, rows)
	ser.Encode(zs, b.Obs, rows)
	same := func(what string, x, y []float32) {
		t.Helper()
		for i := range x {
			if !near(float64(x[i]), float64(y[i]), 1e-5) {
				t.Fatalf("%s[%d]: parallel %g, serial %g", what, i, x[i], y[i])
			}
		}
	}
	same("Encode", zp, zs)
	A := par.spec.ActionDim
	a := make([]float32, rows*A)
	for i := 0; i < rows; i++ {
		a[i*A+rng.IntN(A)] = 1
	}
	np, ns := make([]float32, rows*d), make([]float32, rows*d)
	rp, rs, cp, cs := make([]float32, rows), make([]float32, rows), make([]float32, rows), make([]float32, rows)
	par.Step(np, rp, cp, zp, a, rows, true, rand.New(rand.NewPCG(1, 1)))
	ser.Step(ns, rs, cs, zs, a, rows, true, rand.New(rand.NewPCG(1, 1)))
	same("Step next", np, ns)
	same("Step reward", rp, rs)
	same("Step cont", cp, cs)
	par.Value(rp, zp, rows)
	ser.Value(rs, zs, rows)
	same("Value", rp, rs)
}

// TestDecoderStepGradient checks the probe decoder's hand-written gradient
// against central finite differences of its loss, on a few coordinates of
// each of its tensors.
func TestDecoderStepGradient(t *testing.T) {
	for _, pixels := range []bool{false, true} {
		t.Run(fmt.Sprintf("pixels %v", pixels), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, 14))
			m, _ := testModel(t, nil, pixels, 0, rng)
			const rows = 5
			s := m.newDecoderStep(rows)
			for i := range s.z {
				s.z[i] = float32(rng.NormFloat64())
			}
			for i := range s.target {
				s.target[i] = rng.Float32()
			}
			s.run(m.dec)
			grads := make([][]float32, len(s.grads))
			for i, g := range s.grads {
				grads[i] = append([]float32(nil), g...)
			}
			loss := func() float64 {
				s.run(m.dec)
				return s.loss
			}
			for i, p := range s.params {
				for trial := 0; trial < 4; trial++ {
					k := rng.IntN(len(p.data))
					const h = 1e-2
					old := p.data[k]
					p.data[k] = old + h
					up := loss()
					p.data[k] = old - h
					down := loss()
					p.data[k] = old
					fd := (up - down) / (2 * h)
					if got := float64(grads[i][k]); math.Abs(fd-got) > 1e-3+2e-2*math.Abs(fd) {
						t.Errorf("%s[%d]: gradient %.5g, finite difference %.5g", p.name, k, got, fd)
					}
				}
			}
		})
	}
}

// exp32 is within 2 ulp of e^x on its range, and clamps outside it.
func TestExp32(t *testing.T) {
	const ulp = 1.0 / (1 << 23)
	worst := 0.0
	for x := float32(-87); x <= 88; x += 0.000731 * max(1, float32(math.Abs(float64(x)))) {
		want := math.Exp(float64(x))
		if e := math.Abs(float64(exp32(x))-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 2*ulp {
		t.Errorf("relative error %g, more than 2 ulp (%g)", worst, 2*ulp)
	}
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {1000, exp32(88)}, {-1000, exp32(-87)}, {float32(math.Inf(1)), exp32(88)},
	} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
}

// sigmas agrees with √variance to float32 rounding, across and beyond
// the soft bounds.
func TestSigmas(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	m, _ := testModel(t, nil, false, 0, rng)
	const ulp = 1.0 / (1 << 23)
	var raw []float32
	for v := -60.0; v < 60; v += 0.0137 {
		raw = append(raw, float32(v))
	}
	sig := append([]float32(nil), raw...)
	m.sigmas(sig)
	for i, v := range raw {
		want := math.Sqrt(m.variance(v))
		if e := math.Abs(float64(sig[i])-want) / want; e > 3*ulp {
			t.Fatalf("raw %g: σ %g, √variance %g (relative error %g)", v, sig[i], want, e)
		}
	}
}

// log32 is within 2 ulp of ln x for positive normal x.
func TestLog32(t *testing.T) {
	worst := 0.0
	check := func(x float32) {
		want := math.Log(float64(x))
		got := float64(log32(x))
		ulp := math.Max(math.Abs(float64(math.Nextafter32(float32(want), float32(math.Inf(1)))-float32(want))), 1e-45)
		if e := math.Abs(got-want) / ulp; e > worst {
			worst = e
			if e > 2 {
				t.Fatalf("log32(%g) = %.9g, ln = %.9g: %.1f ulp", x, got, want, e)
			}
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 200000; i++ {
		check(float32(math.Exp(rng.Float64()*170 - 85)))
	}
	for _, x := range []float32{1, 2, 0.5, math.Sqrt2, 1 / math.Sqrt2, 1.0000001, 0.9999999, math.MaxFloat32, math.SmallestNonzeroFloat32 * (1 << 23)} {
		check(x)
	}
	t.Logf("worst error %.2f ulp", worst)
}

// symexp inverts symlog, which is odd, increasing and close to x near 0.
func TestSymlog(t *testing.T) {
	for _, x := range []float32{0, 1e-6, -1e-6, 0.5, -0.5, 1, 60, -1600, 1e6} {
		y := symlog(x)
		if back := symexp(y); math.Abs(float64(back-x)) > 1e-5*math.Max(1, math.Abs(float64(x))) {
			t.Errorf("symexp(symlog(%g)) = %g", x, back)
		}
		if symlog(-x) != -y {
			t.Errorf("symlog(%g) = %g, symlog(%g) = %g: not odd", x, y, -x, symlog(-x))
		}
	}
	if y := symlog(1e-6); math.Abs(float64(y)-1e-6) > 1e-11 {
		t.Errorf("symlog(1e-6) = %g, want about 1e-6", y)
	}
	if a, b := symlog(59), symlog(60); !(a < b) || b > 4.2 {
		t.Errorf("symlog(59) = %g, symlog(60) = %g: want increasing and about 4.1", a, b)
	}
}
