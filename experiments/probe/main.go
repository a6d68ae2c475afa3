// Command probe measures how much of an environment's true state a trained
// run's encoder keeps: it plays episodes with uniformly random actions,
// encodes every observation (with the run's frame stack) and fits a ridge
// regression from the latent z = f_θ(o) to each element of the state
// vector on 80% of the steps, reporting R² on the other 20%:
//
//	go run ./experiments/probe [-episodes N] [-seed S] RUN_DIR
//
// R² near 1 says the element is a linear function of the latent; a
// velocity the encoder cannot read from its frames stays near 0.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"gonum.org/v1/gonum/mat"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

func main() {
	episodes := flag.Int("episodes", 20, "random episodes to play")
	seed := flag.Uint64("seed", 1, "seed of the episodes and actions")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: probe [-episodes N] [-seed S] RUN_DIR")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *episodes, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(dir string, episodes int, seed uint64) error {
	r, err := agent.OpenTrained(dir)
	if err != nil {
		return err
	}
	cfg := r.Config()
	m := r.Model()
	spec := m.Spec()
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size, MapFile: cfg.Map})
	if err != nil {
		return err
	}
	sim := env.Simulator()
	space := env.ActionSpace()
	sdim := sim.VectorSpace().Dim()
	d := m.LatentDim()
	rng := rand.New(rand.NewPCG(seed, 0x70726f6265))

	// The latent of every step, as the run sees it when it acts, beside the
	// true state.
	var zs, ys []float64
	vec := make([]float64, sdim)
	obs := agent.NewObserver(spec)
	record := func() {
		for _, v := range obs.Encode(m) {
			zs = append(zs, float64(v))
		}
		sim.Vector(vec)
		ys = append(ys, vec...)
	}
	act := make([]float64, space.Dim())
	for ep := range episodes {
		obs.Reset(env.Reset(seed + uint64(ep)))
		record()
		for {
			agent.RandomAction(act, space, rng)
			o, _, term, trunc := env.Step(act)
			if term || trunc {
				break
			}
			obs.Push(o)
			record()
		}
	}
	n := len(ys) / sdim
	if n < 10 {
		return fmt.Errorf("only %d observations", n)
	}
	// Shuffle the rows into a fit set and a test set.
	perm := rng.Perm(n)
	nFit := n * 8 / 10
	X := mat.NewDense(nFit, d+1, nil)
	Y := mat.NewDense(nFit, sdim, nil)
	Xt := mat.NewDense(n-nFit, d+1, nil)
	Yt := mat.NewDense(n-nFit, sdim, nil)
	for i, p := range perm {
		dstX, dstY, row := X, Y, i
		if i >= nFit {
			dstX, dstY, row = Xt, Yt, i-nFit
		}
		for j := range d {
			dstX.Set(row, j, zs[p*d+j])
		}
		dstX.Set(row, d, 1)
		for j := range sdim {
			dstY.Set(row, j, ys[p*sdim+j])
		}
	}
	// Ridge: W = (XᵀX + λI)⁻¹ XᵀY.
	var xtx mat.Dense
	xtx.Mul(X.T(), X)
	for j := range d {
		xtx.Set(j, j, xtx.At(j, j)+1e-3*float64(nFit))
	}
	var xty, w mat.Dense
	xty.Mul(X.T(), Y)
	if err := w.Solve(&xtx, &xty); err != nil {
		return err
	}
	var pred mat.Dense
	pred.Mul(Xt, &w)
	fmt.Printf("%s (%s, %d frames): %d observations, %d held out\n", cfg.Env, cfg.Obs, spec.Stack, n, n-nFit)
	for j := range sdim {
		mean, ss, sr := 0.0, 0.0, 0.0
		for i := range n - nFit {
			mean += Yt.At(i, j)
		}
		mean /= float64(n - nFit)
		for i := range n - nFit {
			e := Yt.At(i, j) - pred.At(i, j)
			c := Yt.At(i, j) - mean
			sr += e * e
			ss += c * c
		}
		if ss == 0 {
			fmt.Printf("state[%d]: constant in the held-out steps\n", j)
			continue
		}
		fmt.Printf("state[%d]: R² %.3f\n", j, 1-sr/ss)
	}
	return nil
}
