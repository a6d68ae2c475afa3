package physics

import (
	"image"
	"testing"

	"github.com/dreamrl/dream/envs"
)

// benchEnv is an environment with a fixed cycle of actions to step it by.
type benchEnv struct {
	name    string
	make    func() envs.Simulator
	actions [][]float64
}

func benchEnvs() []benchEnv {
	return []benchEnv{
		{"cartpole", func() envs.Simulator { return NewCartPole() }, [][]float64{{0}, {1}, {1}, {0}}},
		{"pendulum", func() envs.Simulator { return NewPendulum() }, [][]float64{{-2}, {0.5}, {2}, {-1}}},
		{"pendulum-gusty", func() envs.Simulator { return NewPendulumGusty() }, [][]float64{{-2}, {0.5}, {2}, {-1}}},
		{"acrobot", func() envs.Simulator { return NewAcrobot() }, [][]float64{{0}, {2}, {1}, {2}}},
		{"mountaincar", func() envs.Simulator { return NewMountainCar() }, [][]float64{{0}, {2}, {1}, {2}}},
	}
}

// BenchmarkStepRender measures one Step and one Render into a 32×32 frame
// (the default pixel observation), resetting when an episode ends.
func BenchmarkStepRender(b *testing.B) {
	for _, e := range benchEnvs() {
		b.Run(e.name, func(b *testing.B) {
			sim := e.make()
			sim.Reset(1)
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			sim.Render(img) // caches the background
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, term, trunc := sim.Step(e.actions[i%len(e.actions)]); term || trunc {
					sim.Reset(uint64(i))
				}
				sim.Render(img)
			}
		})
	}
}
