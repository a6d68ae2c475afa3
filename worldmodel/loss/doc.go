// Package loss holds the training losses of dream's world model as gorgonia
// graph nodes, and the float64 row functions that score predictions outside a
// graph.
//
// The dynamics losses are the Gaussian negative log-likelihood of a target
// embedding under a predicted Gaussian with diagonal-plus-low-rank covariance
// (GaussianNLL, with β-NLL weighting), its deterministic counterpart
// SquaredError, and the likelihood under a mixture of diagonal Gaussians
// (MixtureNLL) for transitions with several discrete outcomes, with an
// entropy bonus on its weights (MixtureEntropy). The collapse
// guards are SIGReg (the Epps–Pulley test of random projections against
// N(0, 1), from LeJEPA) and VICReg's variance and covariance terms. MSE and
// BCEWithLogits train the reward, continuation and value heads, and
// QuantileHuber (QR-DQN's) a distributional action value; SoftBound
// keeps a predicted log-variance inside a range.
//
// The scalar losses are fused gorgonia ops: one node computes the loss of the
// whole batch, and its symbolic derivative is a second fused node that
// computes every input's gradient in one pass, so gorgonia.Grad works as for
// any built-in op. Each works on Float32 and Float64 graphs; the arithmetic
// runs in float64 either way.
//
// RowNLL, Calibrate and CalibrateMixture are plain Go: they score one
// prediction, or a set of held-out predictions, without a graph.
package loss
