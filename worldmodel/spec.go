package worldmodel

import "fmt"

// Spec describes the model's inputs and actions.
//
// One input row holds Stack observations. A state observation is a vector
// of ObsDim values; a pixel observation is an H×W RGB frame (Frame = [H, W,
// 3]) laid out channels first, so that an input row is (F·3)×H×W float32
// values in [0, 1] with channel index f·3+c for frame f (oldest first) and
// colour c (see PixelsToInput).
type Spec struct {
	// ObsDim is the size of one observation: the state vector's length,
	// or H·W·3 for pixels (filled in when zero).
	ObsDim int `json:"obs_dim"`
	// Frame is (H, W, C) of a pixel observation, C = 3; zero for state
	// vectors.
	Frame [3]int `json:"frame"`
	// Stack is the number F of observations stacked into one input;
	// 0 means the config's FrameStack.
	Stack int `json:"stack"`
	// ActionDim is the width of an action row: the number of actions for
	// discrete actions (fed one-hot), the box dimension otherwise.
	ActionDim int `json:"action_dim"`
	// Discrete tells discrete actions (one-hot rows) from continuous ones.
	Discrete bool `json:"discrete"`
}

// Pixels reports whether the spec describes pixel observations.
func (s Spec) Pixels() bool { return s.Frame != [3]int{} }

// InputDim is the length of one input row: Stack·ObsDim.
func (s Spec) InputDim() int { return s.Stack * s.ObsDim }

// withDefaults fills ObsDim for pixels and Stack from the config.
func (s Spec) withDefaults(c Config) Spec {
	if s.Pixels() && s.ObsDim == 0 {
		s.ObsDim = s.Frame[0] * s.Frame[1] * s.Frame[2]
	}
	if s.Stack == 0 {
		s.Stack = c.FrameStack
	}
	return s
}

// validate checks a spec after withDefaults against a config with defaults.
func (s Spec) validate(c Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: spec: "+format, append([]any{ErrConfig}, args...)...)
	}
	if s.ActionDim < 1 || s.ActionDim > 1<<12 {
		return bad("action_dim %d (allowed: 1 to 4096)", s.ActionDim)
	}
	if s.Stack != c.FrameStack {
		return bad("stack %d differs from frame_stack %d", s.Stack, c.FrameStack)
	}
	if s.Pixels() {
		h, w, ch := s.Frame[0], s.Frame[1], s.Frame[2]
		if ch != 3 || h < 1 || w < 1 || h > 4096 || w > 4096 {
			return bad("frame %v (allowed: [H W 3], 1 ≤ H, W ≤ 4096)", s.Frame)
		}
		if s.ObsDim != h*w*3 {
			return bad("obs_dim %d differs from H·W·3 = %d", s.ObsDim, h*w*3)
		}
		if h < c.Patch || w < c.Patch {
			return bad("frame %v smaller than patch %d", s.Frame, c.Patch)
		}
		return nil
	}
	if s.ObsDim < 1 || s.ObsDim > 1<<20 {
		return bad("obs_dim %d (allowed: 1 to 1048576)", s.ObsDim)
	}
	if c.EncoderHidden > 0 {
		return bad("encoder_hidden %d with state observations (allowed: 0 or -1; a state encoder's hidden layer is set by model.hidden)", c.EncoderHidden)
	}
	return nil
}

// PixelsToInput converts f stacked h×w RGB frames into one input row.
//
// src holds the frames one after the other (oldest first), each h×w×3
// bytes in row-major HWC order, src[((k·h+y)·w+x)·3+c]; dst receives the
// channels-first layout the encoder reads, dst[((k·3+c)·h+y)·w+x] =
// src[…]/255. It allocates nothing and panics if a slice is too short.
func PixelsToInput(dst []float32, src []uint8, f, h, w int) {
	n := f * h * w * 3
	if len(dst) < n || len(src) < n {
		panic(fmt.Sprintf("worldmodel: PixelsToInput: need %d values, have dst %d, src %d", n, len(dst), len(src)))
	}
	hw := h * w
	// v/255 for every byte, looked up rather than divided per value.
	var scale [256]float32
	for v := range scale {
		scale[v] = float32(v) / 255
	}
	for k := 0; k < f; k++ {
		s := src[k*hw*3 : (k+1)*hw*3]
		r := dst[(k*3+0)*hw : (k*3+1)*hw]
		g := dst[(k*3+1)*hw : (k*3+2)*hw]
		b := dst[(k*3+2)*hw : (k*3+3)*hw]
		for p := range r {
			px := s[3*p : 3*p+3 : 3*p+3]
			r[p] = scale[px[0]]
			g[p] = scale[px[1]]
			b[p] = scale[px[2]]
		}
	}
}
