package worldmodel

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Dynamics heads.
const (
	// DynamicsGaussian predicts a Gaussian N(μ, diag(σ²) + UUᵀ) over the
	// next latent and is trained by its negative log-likelihood.
	DynamicsGaussian = "gaussian"
	// DynamicsDeterministic predicts the next latent μ only and is trained
	// by the squared error ‖z̄ − μ‖².
	DynamicsDeterministic = "deterministic"
	// DynamicsMixture predicts a mixture of M diagonal Gaussians
	// Σ_m π_m N(μ_m, diag(σ_m²)) over the next latent (the GJE paper's
	// GMJE), for transitions with several discrete outcomes, and is trained
	// by its negative log-likelihood.
	DynamicsMixture = "mixture"
)

// Collapse guards.
const (
	// GuardSIGReg is LeJEPA's sketched isotropic Gaussian regulariser.
	GuardSIGReg = "sigreg"
	// GuardVICReg is VICReg's variance and covariance terms.
	GuardVICReg = "vicreg"
	// GuardNone trains without a guard (the embeddings collapse).
	GuardNone = "none"
)

// Target encoders.
const (
	// TargetEMA computes target embeddings with an exponential moving
	// average of the online encoder's weights.
	TargetEMA = "ema"
	// TargetStopGrad computes target embeddings with the online encoder's
	// current weights, without gradient.
	TargetStopGrad = "stopgrad"
)

// Latents the value heads train on.
const (
	// ValueLatentsImagined trains the value and the action value on the
	// predictor's rollout ẑ_j, as the reward and continuation heads.
	ValueLatentsImagined = "imagined"
	// ValueLatentsReal trains them on the online latents z_j = f_θ(o_j)
	// of the batch's frames.
	ValueLatentsReal = "real"
)

// Embedding normalisations.
const (
	// EmbedNormNone leaves the encoder's output as it is.
	EmbedNormNone = "none"
	// EmbedNormRMS divides each latent by its root-mean-square value,
	// z = h/√(mean(h²) + ε), so that ‖z‖² = d: the latents' scale can
	// neither grow nor shrink, and the collapse guard shapes only their
	// directions.
	EmbedNormRMS = "rms"
)

// Value transforms.
const (
	// ValueTransformNone regresses the values on the returns themselves.
	ValueTransformNone = "none"
	// ValueTransformSymlog regresses them in symlog space (DreamerV3):
	// the value and action-value heads predict symlog(G) =
	// sign(G)·ln(1 + |G|) of the return G and are read through symexp, so
	// that returns of hundreds (CartPole, Pendulum) give losses and
	// gradients of the same order as the other heads' instead of
	// outweighing them in the encoder and the trunk.
	ValueTransformSymlog = "symlog"
)

// Value targets.
const (
	// ValueLambda regresses the value on imagined TD(λ) returns.
	ValueLambda = "lambda"
	// ValueNStep regresses the value on n-step returns from replay.
	ValueNStep = "nstep"
	// ValueQ learns an action value on the predictor's trunk from replay
	// and regresses the value on its greedy maximum (see ActionValue).
	ValueQ = "q"
)

// Greedy actions of the value target max_a q(z, a).
const (
	// ValueGreedyMax regresses the value on the max of q over actions.
	ValueGreedyMax = "max"
	// ValueGreedyAverage regresses it on q at the action that the
	// averaged weights' q ranks first (double Q-learning).
	ValueGreedyAverage = "average"
)

// Forms of the action value of value_target q.
const (
	// QHeadDirect makes q(z, a) a head on the predictor's trunk.
	QHeadDirect = "direct"
	// QHeadAdvantage makes q(z, a) = V(z) + A(z, a), the head on the
	// trunk learning the advantage A.
	QHeadAdvantage = "advantage"
)

// Networks of the action value of value_target q.
const (
	// QNetTrunk reads q (or its advantage) linearly off the predictor's
	// trunk.
	QNetTrunk = "trunk"
	// QNetOwn gives q (or its advantage) a network of its own on (z, a).
	QNetOwn = "own"
)

// ErrConfig reports a configuration or spec that cannot be used.
var ErrConfig = errors.New("worldmodel: bad config")

// Config holds every hyperparameter of the world model. The zero value of
// each field means the default written next to it, so Config{} is the
// default model; WithDefaults returns the config with those defaults filled
// in, which is what a run should save. The JSON names are snake_case so a
// config can be read from JSON or YAML.
//
// The model trained is (see DESIGN.md, "The world model"):
//
//	z_t        = f_θ(o_t)                online encoder
//	z̄_{t+j}    = f_ξ(o_{t+j})            target encoder (EMA of θ, or θ without gradient)
//	ẑ_0 = z_t,  ẑ_{j+1} = μ_j or a sample of N(μ_j, Σ_j)
//	μ_j, Σ_j   = h_ψ(ẑ_j, a_{t+j}),      Σ_j = diag(σ_j²) + U_j U_jᵀ
//	L          = (1−λ)·Σ_j w_j ℓ(z̄_{t+j+1}; μ_j, Σ_j) + λ·guard(z)
//	             + c_r·L_reward + c_c·L_cont + c_v·L_value
//
// with w_j = ρ^j / Σ_i ρ^i for j = 0 … k−1, ℓ the Gaussian NLL (or the
// squared error for the deterministic model), and the heads trained on the
// imagined latents ẑ_j. The mixture model predicts weights π_j, means
// μ_jm and variances σ_jm² of M components, its ℓ is the mixture's NLL
// minus an entropy bonus on π_j, and ẑ_{j+1} is the most likely
// component's mean (or a sample of a component drawn by π_j).
type Config struct {
	// Dynamics is the dynamics head: "gaussian" (default),
	// "deterministic" or "mixture". Nothing else differs between the
	// models.
	Dynamics string `json:"dynamics"`
	// LatentDim is the latent dimension d. Default 32.
	LatentDim int `json:"latent_dim"`
	// Hidden is the width of the hidden layers of the state encoder, the
	// predictor and the value network. Default 128.
	Hidden int `json:"hidden"`
	// Patch is the side P of the pixel encoder's patchify convolution
	// (kernel P×P, stride P; rows and columns beyond the last whole patch
	// are not seen). Default 4.
	Patch int `json:"patch"`
	// Channels is the number of output channels of the patchify
	// convolution. Default 16.
	Channels int `json:"channels"`
	// EncoderHidden is the width of a hidden layer of the pixel encoder
	// between the flattened patch features and the latent:
	// relu(relu(patches·W₁ + b₁)·W_h + b_h)·W₂ + b₂. 0 (default) has none,
	// the patch features going straight to the latent; so has −1, which
	// callers that fill in a default of their own for 0 (the agent does,
	// for stacked frames) take as "none". Pendulum from pixels, a
	// thin rod whose angular velocity is a sub-pixel motion across three
	// frames, learned only with it (experiments/README.md). State encoders
	// already have a hidden layer (Hidden), so it must be 0 or −1 for them.
	EncoderHidden int `json:"encoder_hidden"`
	// Rank is the rank r of the low-rank factor U ∈ R^{d×r} of the
	// predicted covariance; 0 (default) is a diagonal covariance. Only the
	// Gaussian model has a factor: the mixture's components are diagonal.
	Rank int `json:"rank"`
	// Components is the number M of the mixture's components, 2 to 16
	// (dynamics "mixture" only). Default 3.
	Components int `json:"components"`
	// MixtureEntropy is the weight c of the entropy bonus on the mixing
	// weights: the mixture's loss is ℓ − c·H(π), H(π) = −Σ_m π_m log π_m,
	// which keeps components from dying (a component whose weight reaches
	// zero gets no gradient and never returns; DESIGN.md, "Mixtures
	// collapse without help"). The bonus biases the weights towards
	// uniform by about c. Default 0.01; negative turns it off.
	MixtureEntropy float64 `json:"mixture_entropy"`
	// MixtureFloor is a floor f on every mixing weight, π = (1 − M f)
	// softmax(logits) + f (see loss.MixtureOptions). Default 0.01;
	// negative turns it off; at most 1/(2M).
	MixtureFloor float64 `json:"mixture_floor"`
	// MinLogVar and MaxLogVar are the soft bounds on the predicted log σ²
	// (mbrl-lib style, via softplus). Defaults −10 and 2.
	MinLogVar float64 `json:"min_log_var"`
	MaxLogVar float64 `json:"max_log_var"`
	// VarFloor is added to the soft-bounded σ², σ² = exp(log σ²) + floor.
	// Default 1e-4.
	VarFloor float64 `json:"var_floor"`
	// BetaNLL is the β of β-NLL (Seitzer et al. 2022), weighting each
	// dimension's NLL term by stop-grad(σ²)^β; 0 (default) is the plain
	// NLL. The mixture weighs each component's terms by its own variances
	// inside the expected complete-data loss (loss.MixtureOptions.Beta).
	BetaNLL float64 `json:"beta_nll"`
	// EmbedNorm is the normalisation of the encoder's output: "none"
	// (default) or "rms" (each latent divided by its root-mean-square
	// value, for the online and the target encoder alike). SIGReg's
	// statistic saturates when the embedding is much wider than N(0, I),
	// so it cannot pull back an embedding the other losses widen; with
	// "rms" the scale is fixed (package documentation, "The embedding's
	// scale").
	EmbedNorm string `json:"embed_norm"`
	// Guard is the collapse guard: "sigreg" (default), "vicreg" or "none".
	Guard string `json:"guard"`
	// GuardWeight is λ in (1−λ)·prediction + λ·guard. Default 0.05.
	GuardWeight float64 `json:"guard_weight"`
	// SIGRegDirections is the number M of random unit directions SIGReg
	// draws each step. Default 64.
	SIGRegDirections int `json:"sigreg_directions"`
	// SIGRegKnots is the number of Epps–Pulley knots on [0, 3]. Default 17.
	SIGRegKnots int `json:"sigreg_knots"`
	// Horizon is the number k of predicted steps in the multi-step loss;
	// a training batch holds k+1 frames per sequence. Default 3.
	Horizon int `json:"horizon"`
	// Rho is the per-step weight decay ρ of the multi-step loss
	// (TD-MPC2). Default 0.5.
	Rho float64 `json:"rho"`
	// FeedSamples feeds reparameterised samples μ + σ⊙ε + Uη to the next
	// step of the training rollout instead of the means (default false).
	FeedSamples bool `json:"feed_samples"`
	// Target is the target encoder: "ema" (default) or "stopgrad".
	Target string `json:"target"`
	// EMATau is τ in ξ ← τξ + (1−τ)θ for the target encoder and the target
	// value network. Default 0.99.
	EMATau float64 `json:"ema_tau"`
	// AverageTau is τ of a Polyak average θ̄ ← τθ̄ + (1−τ)θ of the
	// encoder, predictor and value weights, kept beside them for acting
	// (see Averaged). Late in training, stochastic gradients keep moving
	// the weights around their fixed point by more than the gaps between
	// near-equal action values, and the greedy action flips with them
	// from step to step; the average sits nearer the fixed point
	// (Polyak and Juditsky 1992). 0 or −1: no average (the agent's
	// default is 0.9998, for which −1 is the way to ask for none);
	// otherwise 0 < τ < 1.
	AverageTau float64 `json:"average_tau"`
	// FrameStack is the number F of frames stacked into one input.
	// Default 1.
	FrameStack int `json:"frame_stack"`
	// Discount is γ. Default 0.99.
	Discount float64 `json:"discount"`
	// ValueTarget is "lambda" (default: imagined TD(λ) returns from replay
	// latents with a greedy one-step-lookahead action, bootstrapped from
	// the target value), "nstep" (n-step returns from replay) or "q" (an
	// action value q(z, a) on the predictor's trunk regresses one-step
	// replay returns r + γ(1−d)V̄(z̄'), and the value regresses
	// max_a q(z, a) at replay latents).
	ValueTarget string `json:"value_target"`
	// ValueExpectile, with value_target q, is τ of an expectile value
	// (implicit Q-learning, Kostrikov et al. 2022): the value regresses
	// q(z, a) at the batch's logged actions with the asymmetric squared
	// error |τ − 1(q < V)|·(q − V)², which tends to the best logged
	// action's value as τ → 1, instead of max_a q(z, a) over every
	// action. The max reads q at actions a state seldom took, whose errors
	// it selects upwards; at γ = 0.995 on FrozenLake 8x8 that bias grew
	// the values to 2.6 times the true ones, past the goal's reward, and
	// the agent stopped ending episodes at the goal. 0 or −1 keep the max
	// (the agent's default is 0.7, for which −1 is the way to ask for the
	// max); otherwise 0.5 ≤ τ < 1.
	ValueExpectile float64 `json:"value_expectile"`
	// ValueGreedy, with value_target q and no expectile, is how the value
	// target picks its greedy action: "max" (default: V ← max_a q(z, a))
	// or "average" (V ← q(z, a*) with a* = argmax_a q̄(z, a), q̄ being the
	// q of the Polyak-averaged weights, which needs average_tau). The max
	// of q over actions also picks the actions whose q errs upwards, and
	// at a long discount the values grow on that bias; ranking the
	// actions by another estimate of q, whose errors are not those of the
	// q it reads, does not pick them (double Q-learning, van Hasselt et
	// al. 2016). The averaged q reads the online latents.
	ValueGreedy string `json:"value_greedy"`
	// QHead, with value_target q, is the form of the action value:
	// "direct" (default: q(z, a) is a head on the predictor's trunk) or
	// "advantage" (q(z, a) = V(z) + A(z, a): the head learns the
	// advantage A over the value V, which the action value's loss does
	// not train; the dueling form of Wang et al. 2016 with the value held
	// fixed). A direct q moves only where its action is taken, and an
	// action the greedy policy seldom takes keeps the q of the time it
	// was last taken: while the values still rise that is below its
	// return, so the policy goes on not taking it. In the advantage form
	// its q rises with the value of its state.
	QHead string `json:"q_head"`
	// QNet, with value_target q, is the network of the action value (of
	// its advantage under q_head advantage): "trunk" (default: a linear
	// head on the predictor's trunk, whose features the prediction loss
	// shapes) or "own" (a network of its own on (z, a), with the trunk's
	// shape: relu(relu(z·W_z + a·W_a + b₁)·W₂ + b₂)·W₃ + b₃, trained by
	// the action value's loss alone). On the trunk the action value's
	// loss, a thousandth of the prediction loss, hardly moves the shared
	// features, and q is what a linear read of the dynamics' features
	// can say, where a gridworld's actions differ by a thousandth.
	QNet string `json:"q_net"`
	// QQuantiles, with value_target q, is the number M of quantiles of a
	// distributional action value learned beside q: a network of its own
	// on (z, a), of q_net own's shape with M outputs, whose outputs
	// θ_1 … θ_M regress the quantiles at τ_i = (2i − 1)/(2M) of the return
	// of (z, a) by QR-DQN's quantile Huber loss (Dabney et al. 2018) on
	// the latents and with the weight of q's loss, against the
	// distributional targets r + γ(1−d)θ̄_j(z̄', a*) of the network's
	// target copy, a* maximising the mean of θ̄(z̄', ·) (see
	// ActionValueQuantiles). The planner reads them for the return past
	// its horizon, for every risk measure (under the mean their mean
	// takes the place of q). 0 (default) or −1 for none; otherwise 2 to
	// 64. (An agent's config resolves 0 by its planner's risk, and keeps
	// −1 for none: agent.QuantilesFor.)
	QQuantiles int `json:"q_quantiles"`
	// QQuantileKappa is κ of the quantile Huber loss of q_quantiles: the
	// loss is quadratic within κ of each target and linear beyond. κ is in
	// units of the return (of symlog(return) under value_transform
	// symlog), and must be small next to the gaps between a return's
	// outcomes: where every target lies within κ of the quantiles, the
	// loss is an asymmetric squared error, whose minimisers are expectiles
	// rather than quantiles (returns of 0 or 1 need κ ≲ 0.1). Default
	// 0.05: small next to the gaps between a gridworld's returns (0 or 1
	// on FrozenLake; between −5 and 1 on cliff-ice, where 16 quantiles at
	// κ = 0.05 took CVaR over the rock detour); on returns of tens or hundreds almost every error
	// lies beyond either κ, where the gradient, τ or τ − 1, is the same as
	// at QR-DQN's κ = 1 (Pendulum-gusty trained at 1); 0 < κ ≤ 1e6.
	QQuantileKappa float64 `json:"q_quantile_kappa"`
	// ValueLatents is where the value and the action value train:
	// "imagined" (default: on the predictor's rollout ẑ_j, as the reward
	// and continuation heads) or "real" (on the online latents of the
	// batch's frames). Past a transition with several outcomes the
	// rollout's mean lies between the outcomes' latents, and a value
	// trained there on the return of the one outcome that happened bends
	// the values of the real latents near it.
	ValueLatents string `json:"value_latents"`
	// ValueTransform is the space the value and the action value regress
	// their targets in: "none" (default) or "symlog".
	ValueTransform string `json:"value_transform"`
	// NStep is n of the n-step value target, cut at the end of the
	// sequence. Default 3.
	NStep int `json:"n_step"`
	// Lambda is λ of the TD(λ) value target. Default 0.95.
	Lambda float64 `json:"lambda"`
	// ValueHorizon is the number of imagined steps of the TD(λ) target.
	// Default 5.
	ValueHorizon int `json:"value_horizon"`
	// ValueCandidates is the number of random actions in [−1, 1]^A among
	// which the TD(λ) target picks its greedy action when actions are
	// continuous (discrete actions use every action). Default 16.
	ValueCandidates int `json:"value_candidates"`
	// RewardWeight, ContWeight and ValueWeight scale the reward,
	// continuation and value losses. Defaults 1.
	RewardWeight float64 `json:"reward_weight"`
	ContWeight   float64 `json:"cont_weight"`
	ValueWeight  float64 `json:"value_weight"`
	// LR is Adam's learning rate. Default 3e-4.
	LR float64 `json:"lr"`
	// Beta1, Beta2 and AdamEps are Adam's moment decays and ε. Defaults
	// 0.9, 0.999 and 1e-8.
	Beta1   float64 `json:"beta1"`
	Beta2   float64 `json:"beta2"`
	AdamEps float64 `json:"adam_eps"`
	// GradClip is the maximum global norm of the gradient (TD-MPC2's 20 by
	// default); larger gradients are scaled down to it.
	GradClip float64 `json:"grad_clip"`
	// MeanImageFrames is the number of first training frames whose running
	// mean is subtracted from every input (pixels or state vectors), the
	// rest being divided by their root-mean-square deviation, so that
	// frames differing only in a small region are not all mapped to one
	// point at initialisation (DESIGN.md, "Start-up collapse").
	// Default 4096; negative disables the standardisation.
	MeanImageFrames int `json:"mean_image_frames"`
	// DecoderHidden is the hidden width of the probe decoder latent →
	// frame, trained on detached latents for pictures only. Default 128.
	DecoderHidden int `json:"decoder_hidden"`
	// DecoderBatch is the number of rows of each batch the probe decoder
	// is trained on. Default 32.
	DecoderBatch int `json:"decoder_batch"`
}

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	str := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	num := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	flt := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	str(&c.Dynamics, DynamicsGaussian)
	num(&c.LatentDim, 32)
	num(&c.Hidden, 128)
	num(&c.Patch, 4)
	num(&c.Channels, 16)
	num(&c.Components, 3)
	flt(&c.MixtureEntropy, defaultMixtureEntropy)
	flt(&c.MixtureFloor, defaultMixtureFloor)
	flt(&c.MinLogVar, -10)
	flt(&c.MaxLogVar, 2)
	flt(&c.VarFloor, 1e-4)
	str(&c.EmbedNorm, EmbedNormNone)
	str(&c.ValueLatents, ValueLatentsImagined)
	str(&c.ValueTransform, ValueTransformNone)
	str(&c.Guard, GuardSIGReg)
	flt(&c.GuardWeight, 0.05)
	num(&c.SIGRegDirections, 64)
	num(&c.SIGRegKnots, 17)
	num(&c.Horizon, 3)
	flt(&c.Rho, 0.5)
	str(&c.Target, TargetEMA)
	flt(&c.EMATau, 0.99)
	num(&c.FrameStack, 1)
	flt(&c.Discount, 0.99)
	str(&c.ValueTarget, ValueLambda)
	str(&c.ValueGreedy, ValueGreedyMax)
	str(&c.QHead, QHeadDirect)
	str(&c.QNet, QNetTrunk)
	flt(&c.QQuantileKappa, 0.05)
	num(&c.NStep, 3)
	flt(&c.Lambda, 0.95)
	num(&c.ValueHorizon, 5)
	num(&c.ValueCandidates, 16)
	flt(&c.RewardWeight, 1)
	flt(&c.ContWeight, 1)
	flt(&c.ValueWeight, 1)
	flt(&c.LR, 3e-4)
	flt(&c.Beta1, 0.9)
	flt(&c.Beta2, 0.999)
	flt(&c.AdamEps, 1e-8)
	flt(&c.GradClip, 20)
	num(&c.MeanImageFrames, 4096)
	num(&c.DecoderHidden, 128)
	num(&c.DecoderBatch, 32)
	return c
}

// Validate checks the config (after filling defaults) and returns an
// error wrapping ErrConfig that names the first bad field and its allowed
// values.
func (c Config) Validate() error {
	c = c.WithDefaults()
	bad := func(field string, v any, allowed string) error {
		return fmt.Errorf("%w: %s %v (allowed: %s)", ErrConfig, field, v, allowed)
	}
	oneOf := func(field, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%w: %s %q (allowed: %s)", ErrConfig, field, v, quoteJoin(allowed))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if err := oneOf("dynamics", c.Dynamics, DynamicsGaussian, DynamicsDeterministic, DynamicsMixture); err != nil {
		return err
	}
	if err := oneOf("value_latents", c.ValueLatents, ValueLatentsImagined, ValueLatentsReal); err != nil {
		return err
	}
	if err := oneOf("value_transform", c.ValueTransform, ValueTransformNone, ValueTransformSymlog); err != nil {
		return err
	}
	if err := oneOf("embed_norm", c.EmbedNorm, EmbedNormNone, EmbedNormRMS); err != nil {
		return err
	}
	if err := oneOf("guard", c.Guard, GuardSIGReg, GuardVICReg, GuardNone); err != nil {
		return err
	}
	if err := oneOf("target", c.Target, TargetEMA, TargetStopGrad); err != nil {
		return err
	}
	if err := oneOf("value_target", c.ValueTarget, ValueLambda, ValueNStep, ValueQ); err != nil {
		return err
	}
	if err := oneOf("value_greedy", c.ValueGreedy, ValueGreedyMax, ValueGreedyAverage); err != nil {
		return err
	}
	if c.ValueGreedy == ValueGreedyAverage {
		if c.ValueTarget != ValueQ || c.ValueExpectile > 0 || !c.averaged() {
			return fmt.Errorf("%w: value_greedy %q needs value_target %q, value_expectile 0 or −1 and average_tau above 0 (have %q, %g, %g; allowed otherwise: %q)",
				ErrConfig, c.ValueGreedy, ValueQ, c.ValueTarget, c.ValueExpectile, c.AverageTau, ValueGreedyMax)
		}
	}
	if err := oneOf("q_head", c.QHead, QHeadDirect, QHeadAdvantage); err != nil {
		return err
	}
	if c.QHead == QHeadAdvantage && c.ValueTarget != ValueQ {
		return fmt.Errorf("%w: q_head %q needs value_target %q, not %q (allowed otherwise: %q)", ErrConfig, c.QHead, ValueQ, c.ValueTarget, QHeadDirect)
	}
	if err := oneOf("q_net", c.QNet, QNetTrunk, QNetOwn); err != nil {
		return err
	}
	if c.QNet == QNetOwn && c.ValueTarget != ValueQ {
		return fmt.Errorf("%w: q_net %q needs value_target %q, not %q (allowed otherwise: %q)", ErrConfig, c.QNet, ValueQ, c.ValueTarget, QNetTrunk)
	}
	if n := c.QQuantiles; n > 0 || n < -1 {
		if n < 2 || n > maxQuantiles {
			return bad("q_quantiles", n, fmt.Sprintf("-1 or 0 for none, or 2 to %d", maxQuantiles))
		}
		if c.ValueTarget != ValueQ {
			return fmt.Errorf("%w: q_quantiles %d needs value_target %q, not %q (allowed otherwise: 0)", ErrConfig, n, ValueQ, c.ValueTarget)
		}
	}
	if k := c.QQuantileKappa; !finite(k) || k <= 0 || k > 1e6 {
		return bad("q_quantile_kappa", k, "0 < κ ≤ 1e6, 0 for the default 0.05")
	}
	if e := c.ValueExpectile; e != 0 && e != -1 {
		if !finite(e) || e < 0.5 || e >= 1 {
			return bad("value_expectile", e, "0 or −1 for the max over actions, or 0.5 ≤ τ < 1")
		}
		if c.ValueTarget != ValueQ {
			return fmt.Errorf("%w: value_expectile %g needs value_target %q, not %q (allowed with %q: 0)", ErrConfig, e, ValueQ, c.ValueTarget, c.ValueTarget)
		}
	}
	if t := c.AverageTau; t != 0 && t != -1 && (!finite(t) || t <= 0 || t >= 1) {
		return bad("average_tau", t, "0 or −1 for none, or 0 < τ < 1")
	}
	positive := []struct {
		name string
		v    int
		max  int
	}{
		{"latent_dim", c.LatentDim, 4096},
		{"hidden", c.Hidden, 1 << 14},
		{"patch", c.Patch, 256},
		{"channels", c.Channels, 1024},
		{"sigreg_directions", c.SIGRegDirections, 1 << 14},
		{"sigreg_knots", c.SIGRegKnots, 1024},
		{"horizon", c.Horizon, 64},
		{"frame_stack", c.FrameStack, 64},
		{"n_step", c.NStep, 1024},
		{"value_horizon", c.ValueHorizon, 256},
		{"value_candidates", c.ValueCandidates, 4096},
		{"decoder_hidden", c.DecoderHidden, 1 << 14},
		{"decoder_batch", c.DecoderBatch, 1 << 16},
	}
	for _, p := range positive {
		if p.v < 1 || p.v > p.max {
			return bad(p.name, p.v, fmt.Sprintf("1 to %d, 0 for the default", p.max))
		}
	}
	if c.SIGRegKnots < 2 {
		return bad("sigreg_knots", c.SIGRegKnots, "2 or more")
	}
	if c.EncoderHidden < -1 || c.EncoderHidden > 1<<14 {
		return bad("encoder_hidden", c.EncoderHidden, fmt.Sprintf("1 to %d, 0 or -1 for none", 1<<14))
	}
	if c.Rank < 0 || c.Rank > c.LatentDim {
		return bad("rank", c.Rank, fmt.Sprintf("0 (diagonal) to latent_dim %d", c.LatentDim))
	}
	if c.Rank > 0 && c.Dynamics != DynamicsGaussian {
		return bad("rank", c.Rank, "0 unless dynamics is gaussian; mixture components are diagonal")
	}
	if c.Components < 2 || c.Components > maxComponents {
		return bad("components", c.Components, fmt.Sprintf("2 to %d, 0 for the default", maxComponents))
	}
	if !finite(c.MixtureEntropy) || c.MixtureEntropy > 10 {
		return bad("mixture_entropy", c.MixtureEntropy, "up to 10, negative for none")
	}
	if !finite(c.MixtureFloor) || c.MixtureFloor > 0.5/float64(c.Components) {
		return bad("mixture_floor", c.MixtureFloor, fmt.Sprintf("up to 1/(2·components) = %.4g, negative for none", 0.5/float64(c.Components)))
	}
	if !finite(c.MinLogVar) || !finite(c.MaxLogVar) || c.MinLogVar >= c.MaxLogVar {
		return fmt.Errorf("%w: min_log_var %g, max_log_var %g (allowed: finite, min < max)", ErrConfig, c.MinLogVar, c.MaxLogVar)
	}
	ranges := []struct {
		name           string
		v, lo, hi      float64
		openLo, openHi bool
		allowed        string
	}{
		{"var_floor", c.VarFloor, 0, 1, true, false, "0 < var_floor ≤ 1"},
		{"beta_nll", c.BetaNLL, 0, 1, false, false, "0 to 1"},
		{"guard_weight", c.GuardWeight, 0, 1, true, true, "0 < λ < 1"},
		{"rho", c.Rho, 0, 1, true, false, "0 < ρ ≤ 1"},
		{"ema_tau", c.EMATau, 0, 1, false, true, "0 ≤ τ < 1"},
		{"discount", c.Discount, 0, 1, true, false, "0 < γ ≤ 1"},
		{"lambda", c.Lambda, 0, 1, false, false, "0 to 1"},
		{"reward_weight", c.RewardWeight, 0, 1e6, false, false, "0 to 1e6"},
		{"cont_weight", c.ContWeight, 0, 1e6, false, false, "0 to 1e6"},
		{"value_weight", c.ValueWeight, 0, 1e6, false, false, "0 to 1e6"},
		{"lr", c.LR, 0, 1, true, false, "0 < lr ≤ 1"},
		{"beta1", c.Beta1, 0, 1, false, true, "0 ≤ β1 < 1"},
		{"beta2", c.Beta2, 0, 1, false, true, "0 ≤ β2 < 1"},
		{"adam_eps", c.AdamEps, 0, 1, true, false, "0 < ε ≤ 1"},
		{"grad_clip", c.GradClip, 0, math.MaxFloat64, true, false, "> 0"},
	}
	for _, r := range ranges {
		if !finite(r.v) || r.v < r.lo || r.v > r.hi || (r.openLo && r.v == r.lo) || (r.openHi && r.v == r.hi) {
			return bad(r.name, r.v, r.allowed)
		}
	}
	return nil
}

// Mixture defaults and bounds.
const (
	defaultMixtureEntropy = 0.01
	defaultMixtureFloor   = 0.01
	maxComponents         = 16
	// maxQuantiles bounds q_quantiles: the planner aggregates K·M atoms
	// per candidate.
	maxQuantiles = 64
)

// mixtureOptions returns the mixture's floor and entropy weight, zero
// where the config turns them off.
func (c Config) mixtureOptions() (floor, entropy float64) {
	return max(c.MixtureFloor, 0), max(c.MixtureEntropy, 0)
}

func quoteJoin(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", v)
	}
	return out
}

// presets returns the named configs. It is a function, not a package
// variable, so that nothing can change a preset.
func presets() map[string]Config {
	debug := Config{
		LatentDim:        8,
		Hidden:           32,
		Patch:            8,
		Channels:         4,
		SIGRegDirections: 16,
		SIGRegKnots:      9,
		Horizon:          2,
		ValueHorizon:     3,
		ValueCandidates:  4,
		LR:               1e-3,
		MeanImageFrames:  256,
		DecoderHidden:    16,
		DecoderBatch:     8,
	}
	return map[string]Config{
		"debug":   debug.WithDefaults(),
		"default": Config{}.WithDefaults(),
	}
}

// PresetNames lists the names Preset accepts, sorted.
func PresetNames() []string {
	var names []string
	for n := range presets() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a named config with its defaults filled in: "default"
// (the documented defaults) or "debug" (tiny networks for tests and smoke
// runs: a training step takes about a millisecond).
func Preset(name string) (Config, error) {
	c, ok := presets()[name]
	if !ok {
		return Config{}, fmt.Errorf("%w: preset %q (allowed: %s)", ErrConfig, name, quoteJoin(PresetNames()))
	}
	return c, nil
}
