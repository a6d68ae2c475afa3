package physics_test

import (
	"fmt"
	"image"

	"github.com/dreamrl/dream/envs/physics"
)

// A CartPole-v1 episode starts from a seeded random state near upright;
// each step pushes the cart and returns the reward and the two flags.
func ExampleCartPole() {
	c := physics.NewCartPole()
	c.Reset(42)
	fmt.Printf("start %.4f\n", c.State())
	r, terminated, truncated := c.Step([]float64{1}) // push right
	fmt.Printf("after %.4f\n", c.State())
	fmt.Println("reward", r, "terminated", terminated, "truncated", truncated)

	frame := image.NewRGBA(image.Rect(0, 0, 32, 32))
	c.Render(frame)
	fmt.Println("frame", frame.Bounds().Dx(), "×", frame.Bounds().Dy())
	// Output:
	// start [-0.0247 0.0045 -0.0370 -0.0234]
	// after [-0.0246 0.2001 -0.0375 -0.3276]
	// reward 1 terminated false truncated false
	// frame 32 × 32
}

// Pendulum-v1 from a given state: the torque is clipped to [−2, 2] and the
// reward is charged for the state before the step.
func ExamplePendulum() {
	p := physics.NewPendulum()
	if err := p.SetState([]float64{0, 0}); err != nil { // upright, at rest
		fmt.Println(err)
		return
	}
	r, _, _ := p.Step([]float64{5})
	u, _ := p.LastTorque()
	fmt.Printf("state %.4f reward %.4f torque %g\n", p.State(), r, u)
	// Output:
	// state [0.0150 0.3000] reward -0.0040 torque 2
}
