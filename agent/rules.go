package agent

import (
	"math"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// The rules below derive the settings that must depend on the environment
// from what it declares (envs.Traits), never from its name: a map file
// that holds a built-in map, an environment a program registers and a
// Gymnasium one get the settings that a built-in one with the same traits
// gets. WithDefaults applies them to the fields a config leaves at zero,
// and a run's config.json records what they chose, so a user sees it and
// can override it.

// DefaultEnv is the environment of a config that names none.
const DefaultEnv = "gridworld/frozenlake-4x4"

// DefaultBudget is the budget of an environment that declares none.
const DefaultBudget = 50000

// BudgetFor is the number of environment steps of a run that sets none:
// the environment's declared budget, DefaultBudget if it declares none. A
// budget says how long an environment takes to learn, not how to learn it.
func BudgetFor(t envs.Traits) int {
	if t.Budget > 0 {
		return t.Budget
	}
	return DefaultBudget
}

// The bounds of DiscountFor.
const (
	minDiscount = 0.99
	maxDiscount = 0.995
)

// DiscountFor is the discount γ of the model and the planner of a run that
// sets neither. With finitely many states it is the γ whose horizon
// 1/(1−γ) is the time limit T, rounded to four decimals and kept within
// [0.99, 0.995] (0.99 when no limit is declared); otherwise 0.99.
//   - A reward that comes only at the end, as a gridworld's goal does,
//     must still count at an episode's start: acting greedily on the
//     optimal values of FrozenLake 8x8, whose limit is 200 steps,
//     succeeds in 0.863 of episodes at γ = 0.99 and 0.894 at 0.995, out
//     of 0.913 for the best policy.
//   - Above 0.995 a value learned by one-step backups carries a reward
//     back one step per update, and its regression noise grows with
//     1/(1−γ).
//   - Where states do not recur, the rewards of control tasks come at
//     every step, and the longer horizon only slows the values down:
//     Pendulum from pixels, whose limit is also 200 steps, stood at −1100
//     after 12,000 steps at γ = 0.995 against −269 at 0.99 (seed 0;
//     experiments/README.md, "One configuration").
func DiscountFor(t envs.Traits) float64 {
	if !t.FiniteStates || t.TimeLimit <= 0 {
		return minDiscount
	}
	g := math.Round((1-1/float64(t.TimeLimit))*1e4) / 1e4
	return min(maxDiscount, max(minDiscount, g))
}

// FrameStackFor is the number of stacked frames (model.frame_stack) of a
// run that sets none: 3 for pixel observations of an environment whose
// one frame does not show its whole state, 1 otherwise. A physics frame
// shows positions but not velocities, which three frames do (CartPole
// from one frame stays near 40); a gridworld frame is its whole state,
// and a state vector holds the velocities.
func FrameStackFor(obs string, t envs.Traits) int {
	if obs == string(envs.ObsPixels) && !t.FiniteStates {
		return 3
	}
	return 1
}

// EncoderHiddenFor is the width of the pixel encoder's hidden layer
// (model.encoder_hidden) of a run that sets none: 128 wherever frames are
// stacked (FrameStackFor > 1), −1 (none) otherwise. A velocity shows only
// across stacked frames, as a difference between them, and a thin body
// such as Pendulum's rod moves by less than a pixel a step: the linear
// patch embedding alone did not read it, and Pendulum learned from
// pixels only with this layer. A frame that is the whole state needs
// no such reading. Without it Pendulum from pixels ended at −367 (seed 0,
// 50 episodes) against −165 with it. At H = 1 it is not what holds
// CartPole from pixels back: without it, seed 1 stood at 61 after 20,000
// steps against 77 with it (experiments/README.md, "One configuration").
func EncoderHiddenFor(frameStack int) int {
	if frameStack > 1 {
		return 128
	}
	return -1
}

// Exploration is how a run explores while training (Config.Explore,
// ExploreFinal and ExploreDirected).
type Exploration struct {
	Explore, Final, Directed float64
}

// ExplorationFor is the exploration of a run that sets none.
//   - Finitely many states and discrete actions: directed exploration
//     (β = 0.3), with ε falling from 0.1 to 0.02 beside it. It counts
//     the visits of hashed observations and heads for what was tried
//     least over many steps, which needs observations that recur, as a
//     finite set of states' do; it found the rewards of sparse maps that
//     ε-random actions did not (FrozenLake 8x8).
//   - Otherwise: ε, or Gaussian action noise as a fraction of the action
//     range, falling from 0.5 to 0.05, and no directed exploration.
func ExplorationFor(t envs.Traits) Exploration {
	if t.FiniteStates && t.Actions == envs.KindDiscrete {
		return Exploration{Explore: 0.1, Final: 0.02, Directed: 0.3}
	}
	return Exploration{Explore: 0.5, Final: 0.05}
}

// ValueLearning is how a model with an action value learns it and acts on
// it (Config.LRFinal and the model's average_tau, value_expectile, q_head
// and value_weight); zero values leave the model's defaults.
type ValueLearning struct {
	LRFinal, AverageTau, Expectile, Weight float64
	QHead                                  string
}

// ValueLearningFor is the value learning of a run that sets none. Where
// the environment has finitely many states, the values of a state's
// actions differ by about a thousandth of the return (FrozenLake), less
// than the noise of their regression, and the greedy action flips with
// it; there (experiments/README.md, "FrozenLake 8x8", points 2–6):
//   - the learning rate falls to a tenth by the end of the run, and the
//     agent acts with the weights averaged over the last few thousand
//     steps (τ = 0.9998), which settle those close calls;
//   - the value is an expectile (τ = 0.7) of q at the logged actions, not
//     the max over actions, whose upward errors it selects: at γ = 0.995
//     they grew the values past the goal's reward;
//   - q is the value plus an advantage, so that an action the greedy
//     policy seldom takes rises with its state's value;
//   - the value losses weigh 50: at weight 1 they are a thousandth of the
//     prediction loss and hardly shape the features q reads (FrozenLake
//     8x8 from pixels: exact success 0.884–0.891 against 0.829–0.848).
//
// Elsewhere the returns run to tens or hundreds, the value losses already
// weigh as much as the prediction's, and the model's defaults apply:
// CartPole and Pendulum from pixels learned more slowly with these
// settings (experiments/README.md, "One configuration").
func ValueLearningFor(t envs.Traits) ValueLearning {
	if t.FiniteStates {
		return ValueLearning{LRFinal: 0.1, AverageTau: 0.9998, Expectile: 0.7, Weight: 50, QHead: worldmodel.QHeadAdvantage}
	}
	return ValueLearning{LRFinal: 1}
}

// DefaultQuantiles is the number of quantiles of the distributional action
// value that a risk other than the mean turns on (QuantilesFor).
const DefaultQuantiles = 16

// QuantilesFor is model.q_quantiles of a run that sets none (0), with
// value_target q: DefaultQuantiles where the planner's risk is not the
// mean, none otherwise. A risk measure over K futures of H steps sees
// nothing past the horizon while the action value there is a mean, and at
// the default horizon of 1 it sees nothing at all: no future is imagined,
// and `--risk cvar:0.1` would act exactly as the mean does. The quantiles
// carry the risk past the horizon (planner package documentation), so the
// flag that asks for a risk also asks for them; −1 keeps a risk without
// them. Under the mean the run stays as it was: the quantiles are a second
// network to train, and the risk-neutral targets were measured without.
// 16 quantiles are what the runs behind it used: on cliff-ice they took
// CVaR at 10 % over the rock detour on 4 of 5 seeds
// (experiments/README.md, "A distributional action value on cliff-ice").
func QuantilesFor(risk planner.Risk) int {
	if risk.Kind == planner.RiskMean {
		return 0
	}
	return DefaultQuantiles
}

// DefaultHorizon is the planning horizon of a run that sets none, on every
// environment. With H = 1 the planner acts on the action value q(z₀, a)
// at the observed latent; longer plans read q at predicted latents, off
// the latents it was trained on (experiments/README.md):
//   - on a gridworld most moves have two or three outcomes, and a
//     predicted next latent (a mean, or a sample of one Gaussian) lies
//     between them, which misled longer plans on FrozenLake;
//   - Pendulum from pixels learned to swing up at H = 1 and not at H = 5,
//     whose plans were no better than random.
//
// CartPole from pixels learns faster with three-step plans scored by
// TD(λ 0.3), whose reward and continuation heads foresee a fall (the mean
// of the learning curve 210 and 218 against 92 and 169, seeds 1 and 2),
// and Pendulum from pixels slower (curve means −705 and −872 against −465
// and −489) while each candidate's futures draw their own noise. On common
// scenarios (planner.noise common) three-step plans raise the area under
// the learning curve on each of three seeds, on CartPole (229 against
// 156, p = 0.29) and on Pendulum (−413 against −463, p = 0.30), and on
// FrozenLake 4x4 from state they stay within the interval of H = 1 (AUC
// 0.367 against 0.393, 5 seeds, p = 0.53); the horizon stays 1 until the
// other environments are measured.
//
// planner.lambda and planner.method rollout are the ways to plan further
// with q read at every step.
const DefaultHorizon = 1
