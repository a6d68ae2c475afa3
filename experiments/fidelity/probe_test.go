package main

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/physics"
	"github.com/dreamrl/dream/envs/registry"
)

func TestFitProbe(t *testing.T) {
	// States that are an exact affine function of the latents.
	const n, d, m = 200, 3, 2
	rng := rand.New(rand.NewPCG(1, 2))
	w := [d + 1][m]float64{{1, -2}, {0.5, 0}, {0, 3}, {0.25, -1}} // last row: intercept
	z := make([]float32, n*d)
	s := make([]float64, n*m)
	for i := range n {
		for j := range d {
			z[i*d+j] = float32(rng.NormFloat64())
		}
		for k := range m {
			s[i*m+k] = w[d][k]
			for j := range d {
				s[i*m+k] += float64(z[i*d+j]) * w[j][k]
			}
		}
	}
	for _, tc := range []struct {
		name  string
		ridge float64
		tol   float64
	}{
		{"least squares", 0, 1e-9},
		{"small ridge", 1e-6, 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FitProbe(z, s, n, d, m, tc.ridge)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, m)
			for i := range n {
				p.Apply(got, z[i*d:(i+1)*d])
				for k := range m {
					if math.Abs(got[k]-s[i*m+k]) > tc.tol {
						t.Fatalf("row %d: ŝ = %v, s = %v", i, got, s[i*m:(i+1)*m])
					}
				}
			}
		})
	}
	if _, err := FitProbe(z[:2*d], s[:2*m], 2, d, m, 0); err == nil {
		t.Error("a probe fitted on 2 rows of 3 latents: no error")
	}
}

// stateEncoder is the identity encoder of state observations.
type stateEncoder struct{ z []float32 }

func (e *stateEncoder) Reset(o envs.Observation) []float32 { return e.Push(o) }
func (e *stateEncoder) Push(o envs.Observation) []float32 {
	e.z = e.z[:0]
	for _, v := range o.Vector {
		e.z = append(e.z, float32(v))
	}
	return e.z
}

// carModel is a model of MountainCar whose latent is the state (x, v):
// exact steps the simulator itself, frozen keeps the state.
type carModel struct {
	car    *physics.MountainCar
	frozen bool
	s      []float64
}

func (m *carModel) LatentDim() int { return 2 }
func (m *carModel) ActionDim() int { return 3 }
func (m *carModel) Value(dst, _ []float32, rows int) {
	clear(dst[:rows])
}

func (m *carModel) Step(next, _, _, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	copy(next, z[:rows*2])
	if m.frozen {
		return
	}
	for i := range rows {
		if err := m.car.SetState([]float64{float64(z[2*i]), float64(z[2*i+1])}); err != nil {
			panic(err)
		}
		m.car.Step([]float64{float64(argmax(a[3*i : 3*i+3]))})
		m.car.Vector(m.s)
		next[2*i], next[2*i+1] = float32(m.s[0]), float32(m.s[1])
	}
}

// TestScoreProbe scores MountainCar models read by a probe fitted on the
// states themselves: the exact model's error is float32 rounding, the
// frozen one's is the RMS of s_{t+h} − s_t over the same pairs.
func TestScoreProbe(t *testing.T) {
	env, err := registry.Make("physics/mountaincar", envs.Options{Obs: envs.ObsState})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	eps := Play(env, &stateEncoder{}, 2, []uint64{1, 2, 3}, rng)
	var zs []float32
	var ss []float64
	steps := 0
	for _, ep := range eps {
		if len(ep.Z) != (ep.T+1)*2 || len(ep.S) != (ep.T+1)*2 || len(ep.A) != ep.T*3 {
			t.Fatalf("episode of %d steps with %d latent, %d state and %d action values", ep.T, len(ep.Z), len(ep.S), len(ep.A))
		}
		zs = append(zs, ep.Z...)
		ss = append(ss, ep.S...)
		steps += ep.T
	}
	p, err := FitProbe(zs, ss, len(ss)/2, 2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	const H = 3
	opts := ProbeOptions{Horizon: H, Samples: 4, Starts: steps} // every start
	exact := ScoreProbe(&carModel{car: physics.NewMountainCar(), s: make([]float64, 2)}, p, eps, opts, rng)
	frozen := ScoreProbe(&carModel{frozen: true}, p, eps, opts, rng)
	for h := 1; h <= H; h++ {
		want := make([]float64, 2)
		pairs := 0
		for _, ep := range eps {
			for t0 := 0; t0+h <= ep.T; t0++ {
				for j := range 2 {
					e := ep.S[(t0+h)*2+j] - ep.S[t0*2+j]
					want[j] += e * e
				}
				pairs++
			}
		}
		for _, tc := range []struct {
			name string
			s    ProbeScore
			want []float64
			tol  float64
		}{
			{"exact", exact[h-1], []float64{0, 0}, 1e-5},
			{"frozen", frozen[h-1], []float64{math.Sqrt(want[0] / float64(pairs)), math.Sqrt(want[1] / float64(pairs))}, 1e-5},
		} {
			if tc.s.H != h || tc.s.Pairs != pairs {
				t.Fatalf("%s h = %d: score of h %d over %d pairs, want %d", tc.name, h, tc.s.H, tc.s.Pairs, pairs)
			}
			for j := range 2 {
				for what, got := range map[string]float64{"RMSE": tc.s.RMSE[j], "sample RMSE": tc.s.SampleRMSE[j]} {
					if math.Abs(got-tc.want[j]) > tc.tol {
						t.Errorf("%s h = %d: %s[%d] = %.6g, want %.6g", tc.name, h, what, j, got, tc.want[j])
					}
				}
				if tc.s.RealRMSE[j] > 1e-5 {
					t.Errorf("%s h = %d: probe error at real latents %g", tc.name, h, tc.s.RealRMSE[j])
				}
			}
		}
		if frozen[h-1].NRMSE <= exact[h-1].NRMSE {
			t.Errorf("h = %d: frozen nRMSE %g not above exact %g", h, frozen[h-1].NRMSE, exact[h-1].NRMSE)
		}
	}
}

func TestEncodeAction(t *testing.T) {
	box := envs.Box([]float64{-2}, []float64{2}, 1)
	for _, tc := range []struct {
		name  string
		space envs.Space
		a     []float64
		want  []float32
	}{
		{"discrete one-hot", envs.Discrete(3), []float64{2}, []float32{0, 0, 1}},
		{"box low", box, []float64{-2}, []float32{-1}},
		{"box middle", box, []float64{0}, []float32{0}},
		{"box high", box, []float64{2}, []float32{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, modelActionDim(tc.space))
			agent.EncodeAction(got, tc.a, tc.space)
			for i := range got {
				if math.Abs(float64(got[i]-tc.want[i])) > 1e-7 {
					t.Fatalf("EncodeAction(%v) = %v, want %v", tc.a, got, tc.want)
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
		is   error
	}{
		{"no run", nil, "no run directory", nil},
		{"bad termination", []string{"--termination", "never", "x"}, "termination", nil},
		{"bad samples", []string{"--samples", "0", "x"}, "at least 1", nil},
		{"missing run", []string{t.TempDir() + "/none"}, "", agent.ErrRunDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("run(%q) = %v", tc.args, err)
			}
		})
	}
}
