// Package worldmodel is dream's world model: a decoder-free latent
// dynamics model with a Gaussian (or, with one config field, a
// deterministic or a mixture) predictor, trained in a gorgonia graph and
// run for planning by a pure-Go inference path on the same weights.
//
// Notation: frame o_t, action a_t, latent dimension d, rank r.
//
//	z_t      = f_θ(o_t)                   online encoder (patchify conv or MLP)
//	z̄_{t+1}  = f_ξ(o_{t+1})               target encoder: ξ = EMA(θ), or θ without gradient
//	μ, Σ     = h_ψ(z_t, a_t)              predictor, μ = z_t + Δμ, Σ = diag(σ²) + UUᵀ, U ∈ R^{d×r}
//	r̂, ĉ     = heads of h_ψ(z_t, a_t)     reward and continuation (logit)
//	V(z)                                  value; V̄ is its EMA target
//	θ̄, ψ̄, …                               Polyak average of the online weights (AverageTau),
//	                                      which Averaged acts with
//
// The predictor is trained by the Gaussian negative log-likelihood of the
// target embedding,
//
//	ℓ = ½ [ (z̄−μ)ᵀ Σ⁻¹ (z̄−μ) + log det Σ + d log 2π ],
//
// over k steps rolled out from z_t with the logged actions and weighted ρ^j
// (TD-MPC2), plus a collapse guard (SIGReg by default, Balestriero & LeCun
// 2025) on the online embeddings, weighted λ:
//
//	L = (1−λ)·Σ_j w_j ℓ_j + λ·SIGReg + c_r·L_r + c_c·L_c + c_v·L_V.
//
// The deterministic model replaces ℓ by ‖z̄−μ‖²; nothing else differs.
// The mixture model (the GJE paper's GMJE, for transitions with several
// discrete outcomes, where one Gaussian puts its samples between them)
// predicts M diagonal Gaussians and their weights from the same trunk,
//
//	π = softmax(logits) (floored),   μ_m = z_t + Δμ_m,   Σ_m = diag(σ_m²),
//	ℓ = −log Σ_m π_m N(z̄; μ_m, Σ_m) − c·H(π),
//
// with a small entropy bonus c·H(π), a floor on π and components whose
// means start spread out against the collapse onto one component. Its
// rollout feeds the most likely component's mean (or, with FeedSamples, a
// sample of a component drawn by π), as its inference path's mean step
// does.
// The reward and continuation heads are trained on the predictor's own
// imagined latents, the value and the action value on the same latents or
// (ValueLatents "real") on the online latents of the batch's frames. The
// value regresses on imagined TD(λ) returns, n-step returns from replay, or
// the greedy maximum of the action value, which regresses one-step replay
// returns (as a head of its own, or with QHead "advantage" as the value,
// held fixed, plus an advantage head; the head reads the predictor's trunk,
// or with QNet "own" a network of its own on (z, a)); all targets are
// computed outside the graph by the inference path and bootstrapped from
// V̄. With QQuantiles M the action value also learns the distribution of
// its return: M quantiles from a network of its own on (z, a), regressed
// by QR-DQN's quantile Huber loss (loss.QuantileHuber) on the same
// latents against distributional one-step returns bootstrapped from the
// network's EMA target copy (ActionValueQuantiles), for planners whose
// risk measure looks past their horizon. A batch may carry exploration
// bonuses, added to the rewards of the replay returns only. A probe
// decoder latent → frame is trained on detached latents, for pictures
// only.
//
// Inputs are described by a Spec: state vectors, or stacks of RGB frames
// laid out channels first (PixelsToInput converts HWC bytes). The mean of
// the first training frames is subtracted from every input and what is
// left is rescaled to unit variance, which keeps frames that differ only
// in a small square from starting as one embedding (DESIGN.md, "Lessons
// measured").
//
// The embedding's scale: SIGReg compares the empirical characteristic
// function of projected latents with e^{−t²/2} at knots t ∈ [0, 3]; once
// the latents are several times wider than N(0, I) the empirical one is
// near zero at every knot but the first and the statistic stops changing,
// so the guard cannot pull back an embedding the other losses widen. On
// FrozenLake the deterministic and β-NLL models' embeddings widened from
// a standard deviation of 1 to 8 and 40 while the policy fell apart. With
// EmbedNorm "rms" every latent (online and target) is divided by its
// root-mean-square value, z = h/√(mean(h²) + ε), so ‖z‖² = d and only the
// directions are left to the guard.
//
// Training: TrainStep takes one Adam step on a Batch of sequences; the
// layers of the graph are fused ops that compute on float32 slices with
// BLAS. What needs nothing the graph computes runs beside it on
// goroutines of its own: the probe decoder's step, the target encoder's
// embeddings and the returns bootstrapped on them, and SIGReg's loss and
// gradient; the graph waits for each where it uses it. Calibration scores held-out one-step predictions of all three
// dynamics alike: NLL per dimension and coverage from the probability
// integral transform of each dimension's predicted marginal. The
// inference path (Encode, Step, Value, Predict, Decode) allocates nothing
// in steady state and implements the planner's model interface. Save and
// Load write and read the whole model, optimiser state included, in a
// versioned, checksummed format. UseFastBLAS switches the products to
// OpenBLAS, loaded at run time when it is installed (no cgo, no build
// tag), or linked with -tags openblas (cgo, CGO_LDFLAGS=-lopenblas).
package worldmodel
