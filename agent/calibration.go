package agent

import (
	"fmt"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/worldmodel"
	"github.com/dreamrl/dream/worldmodel/loss"
)

// streamHeldOut is the second PCG word of the planner's random stream
// while HeldOutCalibration plays ("heldout").
const streamHeldOut = 0x68656c646f7574

// MaxHeldOutTransitions bounds the transitions HeldOutCalibration keeps;
// episodes beyond it are not played.
const MaxHeldOutTransitions = 20000

// HeldOutCalibration measures how well the world model's one-step
// predictions fit transitions it was not trained on. It plays episodes
// with the greedy planner (no exploration) on a fresh environment,
// episode i from seed firstSeed+i, keeps every transition (o_t, a_t,
// o_{t+1}) (at most MaxHeldOutTransitions) and scores the prediction from
// z_t = f_θ(o_t) and a_t against the target embedding z̄_{t+1} = f_ξ(o_{t+1})
// with worldmodel.Model.Calibration: the negative log-likelihood per
// latent dimension, the shares of normalised residuals within 1σ and 2σ,
// and the expected calibration error (see loss.Calibration). The
// deterministic model is scored as a Gaussian with unit variance.
//
// Training draws its episode seeds from the run's own random stream, so a
// fixed firstSeed (dream compare uses one far from dream eval's) gives
// episodes the model has not seen. The run is not changed, and the same
// run and arguments give the same result.
func (r *Run) HeldOutCalibration(episodes int, firstSeed uint64) (cal loss.Calibration, err error) {
	if episodes < 1 {
		return loss.Calibration{}, fmt.Errorf("%w: held-out calibration episodes %d (allowed: at least 1)", ErrConfig, episodes)
	}
	defer envs.RecoverFailure(&err)
	env, err := r.makeEnv()
	if err != nil {
		return loss.Calibration{}, fmt.Errorf("held-out calibration: %w", err)
	}
	defer envs.Close(env)
	space := env.ActionSpace()
	plan, err := newPlanner(r.cfg, space, r.model, nil)
	if err != nil {
		return loss.Calibration{}, fmt.Errorf("held-out calibration: %w", err)
	}
	obs := NewObserver(r.spec)
	rng := rand.New(rand.NewPCG(firstSeed, streamHeldOut))
	in, ad := r.spec.InputDim(), r.spec.ActionDim
	var cur, next, actions []float32
	var rewards, terminated []float32
	row := make([]float32, in)
	act := make([]float32, ad)
	n := 0
	for ep := 0; ep < episodes && n < MaxHeldOutTransitions; ep++ {
		obs.Reset(env.Reset(firstSeed + uint64(ep)))
		plan.Reset()
		for n < MaxHeldOutTransitions {
			z := obs.Encode(r.model)
			obs.inputRow(row)
			cur = append(cur, row...)
			a := plan.Plan(z, rng)
			EncodeAction(act, a, space)
			actions = append(actions, act...)
			o, rew, term, trunc := env.Step(a)
			obs.Push(o)
			obs.inputRow(row)
			next = append(next, row...)
			t := float32(0)
			if term {
				t = 1
			}
			rewards = append(rewards, float32(rew))
			terminated = append(terminated, t)
			n++
			if term || trunc {
				break
			}
		}
	}
	b := &worldmodel.Batch{
		B: n, K: 1,
		Obs:        append(cur, next...),
		Actions:    actions,
		Rewards:    rewards,
		Terminated: terminated,
	}
	return r.model.Calibration(b), nil
}

// inputRow writes the model's input row of the stacked observations.
func (o *Observer) inputRow(dst []float32) {
	if o.frames != nil {
		worldmodel.PixelsToInput(dst, o.frames, o.spec.Stack, o.spec.Frame[0], o.spec.Frame[1])
		return
	}
	copy(dst, o.vecs)
}
