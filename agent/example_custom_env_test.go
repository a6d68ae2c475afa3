package agent_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// Corridor is a small environment of one's own: a corridor of n cells
// with the goal at its right end. The agent starts in a random cell of the
// left half and steps left (action 0) or right (action 1); reaching the
// goal earns +1 and ends the episode, which is cut short after 4n steps.
// The state vector is the agent's cell divided by n − 1.
//
// A simulator implements envs.Simulator; envs.Successor makes the
// evaluation report a success rate.
type Corridor struct {
	n, cell, steps int
	state          [1]float64
	src            rand.PCG
}

var (
	_ envs.Simulator = (*Corridor)(nil)
	_ envs.Successor = (*Corridor)(nil)
)

// NewCorridor returns a corridor of n ≥ 2 cells.
func NewCorridor(n int) *Corridor { return &Corridor{n: n} }

// ActionSpace is Discrete(2): left, right.
func (c *Corridor) ActionSpace() envs.Space { return envs.Discrete(2) }

// VectorSpace is Box(0, 1, (1,)).
func (c *Corridor) VectorSpace() envs.Space { return envs.Box([]float64{0}, []float64{1}, 1) }

// Reset puts the agent in a cell of the left half drawn from seed alone.
func (c *Corridor) Reset(seed uint64) {
	c.src.Seed(seed, 0)
	c.cell = rand.New(&c.src).IntN(c.n / 2)
	c.steps = 0
}

// Step moves one cell left or right, staying inside the corridor.
func (c *Corridor) Step(a []float64) (reward float64, terminated, truncated bool) {
	if a[0] == 1 {
		c.cell = min(c.cell+1, c.n-1)
	} else {
		c.cell = max(c.cell-1, 0)
	}
	c.steps++
	if c.Success() {
		return 1, true, false
	}
	return 0, false, c.steps >= 4*c.n
}

// Vector writes the agent's cell divided by n − 1.
func (c *Corridor) Vector(dst []float64) { dst[0] = float64(c.cell) / float64(c.n-1) }

// State is the agent's cell.
func (c *Corridor) State() []float64 {
	c.state[0] = float64(c.cell)
	return c.state[:]
}

// Success reports whether the agent stands on the goal.
func (c *Corridor) Success() bool { return c.cell == c.n-1 }

// Render draws the corridor as a row of cells across the middle of dst,
// at dst's size: grey floor, a green goal and a red agent on black.
func (c *Corridor) Render(dst *image.RGBA) {
	b := dst.Bounds()
	fill := func(r image.Rectangle, col color.RGBA) {
		draw.Draw(dst, r, &image.Uniform{col}, image.Point{}, draw.Src)
	}
	fill(b, color.RGBA{0, 0, 0, 255})
	top, bottom := b.Min.Y+b.Dy()/3, b.Max.Y-b.Dy()/3
	for i := range c.n {
		cell := image.Rect(b.Min.X+i*b.Dx()/c.n, top, b.Min.X+(i+1)*b.Dx()/c.n, bottom)
		col := color.RGBA{120, 120, 120, 255}
		switch i {
		case c.cell:
			col = color.RGBA{220, 40, 40, 255}
		case c.n - 1:
			col = color.RGBA{40, 200, 60, 255}
		}
		fill(cell, col)
	}
}

// ExampleWithRegistry registers an environment of one's own, trains on it
// from pixels with the debug preset, and opens the run again (as a resumed
// run would be) to evaluate it with the same registry.
func ExampleWithRegistry() {
	reg := registry.Builtin()
	err := reg.Register(registry.Entry{
		Name:        "custom/corridor",
		Description: "walk right along an 8-cell corridor to the goal, +1 there",
		Success:     true,
		New:         func(envs.Options) (envs.Simulator, error) { return NewCorridor(8), nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	cfg, err := agent.Preset("debug")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.Env = "custom/corridor"
	cfg.Steps = 1000 // the preset's 2000 take twice as long
	dir, err := os.MkdirTemp("", "corridor-run")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	run, err := agent.New(cfg, dir, agent.WithRegistry(reg))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := run.Train(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	ckpts, err := agent.Checkpoints(dir)
	if err != nil || len(ckpts) == 0 {
		fmt.Println("no checkpoint:", err)
		return
	}
	fmt.Println("trained", run.EnvSteps(), "steps; newest checkpoint", filepath.Base(ckpts[len(ckpts)-1]))

	// config.json names the environment; opening the run again needs the
	// registry that holds it.
	reopened, err := agent.Open(dir, agent.WithRegistry(reg))
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := reopened.Evaluate(3, 1, nil)
	fmt.Println("reopened at step", reopened.EnvSteps(), "of", reopened.Config().Env)
	fmt.Println("evaluated", ev.Episodes, "episodes; success rate reported:", ev.HasGoal)
	// Output:
	// trained 1000 steps; newest checkpoint ckpt-0000001000.ckpt
	// reopened at step 1000 of custom/corridor
	// evaluated 3 episodes; success rate reported: true
}
