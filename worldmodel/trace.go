package worldmodel

import (
	"math"
	"math/rand/v2"
)

// StepTrace is what one training step computed and drew, kept apart term
// by term, so that another implementation of the step (the PyTorch twin in
// experiments/bench) can be checked against it on the same weights, batch
// and random draws. Rows are time-major as in Batch.
type StepTrace struct {
	// Directions are SIGReg's directions (d×M, row-major, one per column);
	// nil without SIGReg.
	Directions []float32
	// Eps (K·B×d), Eta (K·B·d×r) and MixU (K·B) are the rollout's noise
	// with FeedSamples; nil without it.
	Eps, Eta, MixU []float32

	// The loss terms as the graph computed them:
	//
	//	Total = (1−λ)·(Prediction − c·Entropy) + λ·Guard
	//	        + c_r·Reward + c_c·Cont + c_v·(Value + ActionValue + Quantile)
	//
	// with Entropy the mixture's ρ-weighted mean entropy of its weights
	// (0 for one component) and c its bonus.
	Prediction, Entropy, Guard   float64
	Reward, Cont                 float64
	Value, ActionValue, Quantile float64
	Total, Decoder               float64
	// GradNorm and DecoderGradNorm are the global norms of the world
	// model's and the probe decoder's gradients, before clipping.
	GradNorm, DecoderGradNorm float64
	// ValueTargets are the value's targets (in the value space) and
	// ValueWeights the weights of its rows, an expectile's asymmetry
	// included (valueSteps·B each); ActionValueTargets are the action
	// value's one-step returns (K·B; nil without value_target q).
	ValueTargets, ValueWeights []float32
	ActionValueTargets         []float32
}

// TrainStepTraced is TrainStep that also records the step into tr: its
// draws, its loss terms and targets, and the norms of its gradients. The
// step itself is TrainStep's, draw for draw.
func (m *Model) TrainStepTraced(b *Batch, rng *rand.Rand, tr *StepTrace) (Metrics, error) {
	return m.trainStep(b, rng, tr)
}

// fillTrace copies what the graph's last run computed into tr.
func (m *Model) fillTrace(tr *StepTrace, tg *trainGraph, met Metrics, modelSq, decSq float64) {
	clone := func(s []float32) []float32 {
		if s == nil {
			return nil
		}
		return append([]float32(nil), s...)
	}
	scalar := func(s []float32) float64 {
		if s == nil {
			return 0
		}
		return float64(s[0])
	}
	*tr = StepTrace{
		Directions: clone(tg.dirs), Eps: clone(tg.eps), Eta: clone(tg.eta), MixU: clone(tg.mixU),
		Prediction: met.Prediction, Entropy: scalar(tg.entropy), Guard: met.Guard,
		Reward: met.Reward, Cont: met.Cont,
		Value: scalar(tg.valLoss), ActionValue: scalar(tg.qLoss), Quantile: scalar(tg.quantLoss),
		Total: met.Total, Decoder: met.Decoder,
		GradNorm: math.Sqrt(modelSq), DecoderGradNorm: math.Sqrt(decSq),
		ValueTargets: clone(tg.value), ValueWeights: clone(tg.valWeight),
		ActionValueTargets: clone(tg.qTarget),
	}
}
