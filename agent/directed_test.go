package agent

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/replay"
)

// TestDirectedValues checks the exploration values against a hand
// computation at γ = ½ with three actions, an episode starting at code 1:
//
//   - (1, 0) was tried 5 times: 4 led to code 2 (bonus 1/√4, never left,
//     so its pairs are untried and worth 1/(1−γ) = 2), 1 to code 3 (bonus
//     1);
//   - (1, 1) was tried once and terminated at code 99 (bonus 1, no future);
//   - (3, a) were tried once each and terminated at code 98, reached 3
//     times: U(3, a) = 1/√3.
//
// So U(1, 0) = (4·(½ + ½·2) + (1 + ½/√3))/5, U(1, 1) = 1, and (1, 2) is
// untried: 2.
func TestDirectedValues(t *testing.T) {
	d := newDirected(3, 0.5)
	d.start(1)
	for range 4 {
		d.observe(1, 0, 2, false)
	}
	d.observe(1, 0, 3, false)
	d.observe(1, 1, 99, true)
	for a := range 3 {
		d.observe(3, a, 98, true)
	}
	d.update()
	got := make([]float64, 3)
	d.values(got, 1, 2) // β = 2
	want := []float64{2 * (4*1.5 + 1 + 0.5/math.Sqrt(3)) / 5, 2 * 1, 2 * 2}
	for a := range want {
		if math.Abs(got[a]-want[a]) > 1e-12 {
			t.Errorf("β·U(1, %d) = %v, want %v", a, got[a], want[a])
		}
	}
	d.values(got, 3, 1)
	for a, u := range got {
		if math.Abs(u-1/math.Sqrt(3)) > 1e-12 {
			t.Errorf("U(3, %d) = %v, want 1/√3", a, u)
		}
	}
	d.values(got, 12345, 1) // never seen
	for a, u := range got {
		if u != 2 {
			t.Errorf("U of an unseen code, action %d = %v, want 2", a, u)
		}
	}
}

// TestDirectedFindsTheGoal acts on the exploration value alone (argmax,
// ties broken at random) on the slippery FrozenLake 8x8 and compares it
// with uniformly random actions over the same number of steps, for two
// seeds: directed exploration must try nearly every (cell, action) pair
// and reach the goal many times more often than random actions, which
// reach it in 0.19% of episodes.
func TestDirectedFindsTheGoal(t *testing.T) {
	const steps = 20000
	run := func(directedActs bool, seed uint64) (goals, pairs int) {
		env, err := registry.Make("gridworld/frozenlake-8x8", envs.Options{Obs: envs.ObsState})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 8))
		nov := newNovelty(replay.Spec{ObsDim: env.ObservationSpace().Dim(), ActionDim: 4}, 32, rng)
		d := newDirected(4, 0.9)
		toObs := func(o envs.Observation) replay.Obs {
			v := make([]float32, len(o.Vector))
			for i, x := range o.Vector {
				v[i] = float32(x)
			}
			return replay.Obs{Vector: v}
		}
		code := nov.observe(toObs(env.Reset(rng.Uint64())))
		d.start(code)
		u := make([]float64, 4)
		action := []float64{0}
		for range steps {
			a := rng.IntN(4)
			if directedActs {
				d.update()
				d.values(u, code, 1)
				start, best := rng.IntN(4), -1.0
				for k := range 4 {
					if b := (start + k) % 4; u[b] > best {
						a, best = b, u[b]
					}
				}
			}
			action[0] = float64(a)
			obs, rew, term, trunc := env.Step(action)
			next := nov.observe(toObs(obs))
			d.observe(code, a, next, term)
			code = next
			if rew > 0 {
				goals++
			}
			if term || trunc {
				code = nov.observe(toObs(env.Reset(rng.Uint64())))
				d.start(code)
			}
		}
		for _, p := range d.pairs {
			if p.n > 0 {
				pairs++
			}
		}
		return goals, pairs
	}
	var dg, rg int
	for seed := range uint64(2) {
		g, dp := run(true, seed+1)
		r, rp := run(false, seed+1)
		t.Logf("seed %d, %d steps: directed reached the goal %d times and tried %d pairs; random %d times, %d pairs", seed+1, steps, g, dp, r, rp)
		dg, rg = dg+g, rg+r
		// The map has 64 cells, 10 holes and the goal: 53 cells that can
		// be left, 212 pairs.
		if dp < 200 || dp <= rp {
			t.Errorf("seed %d: directed exploration tried %d (cell, action) pairs of 212, random actions %d: want at least 200 and more", seed+1, dp, rp)
		}
	}
	if dg < 30 || dg < 5*rg {
		t.Errorf("directed exploration reached the goal %d times, random actions %d: want at least 30 and 5 times as often", dg, rg)
	}
}

// TestDirectedState round-trips the counts and values and refuses
// inconsistent ones with an error naming what is wrong.
func TestDirectedState(t *testing.T) {
	d := newDirected(2, 0.9)
	d.start(5)
	d.observe(5, 0, 6, false)
	d.observe(5, 0, 7, false)
	d.observe(6, 1, 5, false)
	d.observe(7, 1, 0, true)
	d.update()
	back := newDirected(2, 0.9)
	if err := back.restore(d.state()); err != nil {
		t.Fatal(err)
	}
	got, want := make([]float64, 2), make([]float64, 2)
	for _, c := range []uint64{5, 6, 7, 0, 8} {
		back.values(got, c, 1)
		d.values(want, c, 1)
		if got[0] != want[0] || got[1] != want[1] {
			t.Errorf("code %d: values %v after restore, want %v", c, got, want)
		}
	}
	back.update()
	d.update()
	for i := range d.value {
		if back.value[i] != d.value[i] || back.pairs[i].n != d.pairs[i].n {
			t.Errorf("pair %d: value %v tried %d after restore and a sweep, want %v and %d", i, back.value[i], back.pairs[i].n, d.value[i], d.pairs[i].n)
		}
	}

	for _, tt := range []struct {
		name  string
		spoil func(*directedState)
		want  string
	}{
		{"missing", nil, "no transition counts"},
		{"short", func(s *directedState) { s.Visits = s.Visits[1:] }, "need 4 visit counts and 8 pairs"},
		{"odd", func(s *directedState) { s.Next[0] = s.Next[0][1:] }, "not (node, terminated, count) triples"},
		{"node", func(s *directedState) { s.Next[0][0] = 9 }, "(node 9 of 4, terminated 0, count 1)"},
		{"flag", func(s *directedState) { s.Next[0][1] = 2 }, "terminated 2"},
		{"count", func(s *directedState) { s.Next[0][2] = 0 }, "count 0"},
		{"duplicate", func(s *directedState) { s.Codes[1] = s.Codes[0] }, "listed twice"},
		{"value", func(s *directedState) { s.Values[2] = math.NaN() }, "has the value NaN"},
	} {
		var s *directedState
		if tt.spoil != nil {
			s = d.state()
			s.Codes = append([]uint64(nil), s.Codes...)
			s.Next = append([][]uint32(nil), s.Next...)
			s.Next[0] = append([]uint32(nil), s.Next[0]...)
			s.Values = append([]float64(nil), s.Values...)
			tt.spoil(s)
		}
		fresh := newDirected(2, 0.9)
		err := fresh.restore(s)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
		if len(fresh.pairs) != 0 {
			t.Errorf("%s: a refused state left %d pairs", tt.name, len(fresh.pairs))
		}
	}
}

// TestDirectedRun trains with directed exploration, checks that every
// environment step was counted, and that a resumed run has the same
// counts and values and trains on; on a box action space the config is
// refused with a one-line error.
func TestDirectedRun(t *testing.T) {
	dir := t.TempDir()
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 400)
	cfg.ExploreDirected = 0.05
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	trainUntilInterrupted(t, run, 250)
	tried := 0
	for _, p := range run.directed.pairs {
		tried += int(p.n)
	}
	if tried != run.EnvSteps() {
		t.Errorf("%d transitions counted, want one per env step (%d)", tried, run.EnvSteps())
	}
	resumed, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.directed.pairs) != len(run.directed.pairs) {
		t.Fatalf("resumed with %d pairs, want %d", len(resumed.directed.pairs), len(run.directed.pairs))
	}
	for i, u := range run.directed.value {
		if resumed.directed.value[i] != u || resumed.directed.pairs[i].n != run.directed.pairs[i].n {
			t.Errorf("pair %d: value %v tried %d after resume, want %v and %d", i, resumed.directed.value[i], resumed.directed.pairs[i].n, u, run.directed.pairs[i].n)
		}
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}

	box := debugConfig(t, "physics/pendulum", 100)
	box.ExploreDirected = 0.05
	_, err = New(box, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "explore_directed needs a discrete action space") || strings.Contains(err.Error(), "\n") {
		t.Errorf("directed exploration on a box: %v, want a one-line error naming explore_directed", err)
	}
}
