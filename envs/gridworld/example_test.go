package gridworld_test

import (
	"fmt"
	"image"
	"strings"

	"github.com/dreamrl/dream/envs/gridworld"
)

func ExampleFrozenLake4x4() {
	env := gridworld.FrozenLake4x4()
	env.Reset(42)
	fmt.Println("start", env.State())
	for _, a := range []float64{gridworld.Down, gridworld.Right, gridworld.Right} {
		reward, terminated, truncated := env.Step([]float64{a})
		fmt.Println(env.State(), reward, terminated, truncated)
	}
	// Output:
	// start [0 0]
	// [0 1] 0 false false
	// [0 1] 0 false false
	// [0 2] 0 false false
}

func ExampleNew() {
	const text = `slip = 0
step_reward = -1
goal_reward = 10
max_steps = 10

S.#
..G
`
	m, err := gridworld.ParseMap(strings.NewReader(text), "tiny.map")
	if err != nil {
		fmt.Println(err)
		return
	}
	env := gridworld.New(m)
	env.Reset(1)
	for _, a := range []float64{gridworld.Right, gridworld.Right, gridworld.Down, gridworld.Right} {
		reward, terminated, truncated := env.Step([]float64{a})
		fmt.Println(env.State(), reward, terminated, truncated)
		if terminated || truncated {
			break
		}
	}
	frame := image.NewRGBA(image.Rect(0, 0, 32, 32))
	env.Render(frame)
	fmt.Println(frame.RGBAAt(27, 24)) // the agent on the goal, bottom right
	// Output:
	// [0 1] -1 false false
	// [0 1] -1 false false
	// [1 1] -1 false false
	// [1 2] 10 true false
	// {232 78 30 255}
}

func ExampleParseMap() {
	_, err := gridworld.ParseMap(strings.NewReader("slip = 1.5\nS.G\n"), "bad.map")
	fmt.Println(err)
	// Output:
	// gridworld: bad map: bad.map line 1: bad value "1.5" for slip (allowed: a number from 0 to 1 such as 0.3 or 2/3)
}

func ExampleOptimalSuccess() {
	fmt.Printf("%.3f %.3f\n",
		gridworld.OptimalSuccess(gridworld.FrozenLake4x4(), 100),
		gridworld.OptimalSuccess(gridworld.FrozenLake8x8(), 200))
	// Output: 0.744 0.913
}
