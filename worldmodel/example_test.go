package worldmodel_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/dreamrl/dream/worldmodel"
)

// A Gaussian prediction: encode a state, predict the next latent's mean and
// marginal variances for an action, and draw a sample of it.
func ExampleModel_Predict() {
	cfg, _ := worldmodel.Preset("debug")
	spec := worldmodel.Spec{ObsDim: 4, ActionDim: 2, Discrete: true}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := worldmodel.New(cfg, spec, rng)
	if err != nil {
		fmt.Println(err)
		return
	}
	obs := []float32{0.01, -0.2, 0.03, 0.4}
	action := []float32{0, 1} // one-hot: action 1
	d := m.LatentDim()
	z := make([]float32, d)
	m.Encode(z, obs, 1)
	mean, variance := make([]float32, d), make([]float32, d)
	m.Predict(mean, variance, z, action, 1)
	positive := true
	for _, v := range variance {
		positive = positive && v > 0
	}
	next, reward, cont := make([]float32, d), make([]float32, 1), make([]float32, 1)
	m.Step(next, reward, cont, z, action, 1, true, rng)
	fmt.Println("latent dimension:", d)
	fmt.Println("variances positive:", positive)
	fmt.Println("continuation probability in (0, 1):", cont[0] > 0 && cont[0] < 1)
	// Output:
	// latent dimension: 8
	// variances positive: true
	// continuation probability in (0, 1): true
}

// Training on a batch of sequences: K = 1 transition from each of B = 2
// states.
func ExampleModel_TrainStep() {
	cfg, _ := worldmodel.Preset("debug")
	cfg.Horizon = 1
	spec := worldmodel.Spec{ObsDim: 2, ActionDim: 2, Discrete: true}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := worldmodel.New(cfg, spec, rng)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := &worldmodel.Batch{
		B: 2, K: 1,
		Obs:        []float32{0, 0, 1, 1 /* t = 0 */, 0, 1, 1, 0 /* t = 1 */},
		Actions:    []float32{1, 0, 0, 1},
		Rewards:    []float32{0, 1},
		Terminated: []float32{0, 1},
	}
	for i := 0; i < 3; i++ {
		if _, err := m.TrainStep(b, rng); err != nil {
			fmt.Println(err)
			return
		}
	}
	met, _ := m.TrainStep(b, rng)
	fmt.Println("steps:", m.Steps())
	fmt.Println("columns:", met.Names()[:4])
	// Output:
	// steps: 4
	// columns: [total prediction guard reward]
}

// Pixel inputs: HWC bytes become channels-first floats in [0, 1].
func ExamplePixelsToInput() {
	// One 1×2 frame: a red and a white pixel.
	src := []uint8{255, 0, 0, 255, 255, 255}
	dst := make([]float32, len(src))
	worldmodel.PixelsToInput(dst, src, 1, 1, 2)
	fmt.Println("red plane:", dst[0:2], "green plane:", dst[2:4], "blue plane:", dst[4:6])
	// Output:
	// red plane: [1 1] green plane: [0 1] blue plane: [0 1]
}

// A mixture prediction: the mean step follows the most likely component,
// a sampled step draws a component by its weight and then a Gaussian
// sample of it, and Predict gives the mixture's overall mean and variance.
func ExampleModel_Step_mixture() {
	cfg, _ := worldmodel.Preset("debug")
	cfg.Dynamics = worldmodel.DynamicsMixture
	spec := worldmodel.Spec{ObsDim: 4, ActionDim: 2, Discrete: true}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := worldmodel.New(cfg, spec, rng)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := m.LatentDim()
	z := make([]float32, d)
	m.Encode(z, []float32{0.01, -0.2, 0.03, 0.4}, 1)
	action := []float32{1, 0}
	mode, sample := make([]float32, d), make([]float32, d)
	m.Step(mode, nil, nil, z, action, 1, false, nil)
	m.Step(sample, nil, nil, z, action, 1, true, rng)
	mean, variance := make([]float32, d), make([]float32, d)
	m.Predict(mean, variance, z, action, 1)
	fromMean, fromMode := false, false
	for i := range mode {
		fromMean = fromMean || mode[i] != mean[i]
		fromMode = fromMode || sample[i] != mode[i]
	}
	fmt.Println("components:", m.Config().Components)
	fmt.Println("mean step differs from the mixture's mean:", fromMean)
	fmt.Println("sample differs from the mean step:", fromMode)
	// Output:
	// components: 3
	// mean step differs from the mixture's mean: true
	// sample differs from the mean step: true
}
