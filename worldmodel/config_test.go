package worldmodel

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*Config)
		field string // "" when valid
	}{
		{"zero value", func(c *Config) {}, ""},
		{"deterministic", func(c *Config) { c.Dynamics = DynamicsDeterministic }, ""},
		{"rank 2", func(c *Config) { c.Rank = 2 }, ""},
		{"vicreg stopgrad nstep", func(c *Config) {
			c.Guard, c.Target, c.ValueTarget = GuardVICReg, TargetStopGrad, ValueNStep
		}, ""},
		{"no mean image", func(c *Config) { c.MeanImageFrames = -1 }, ""},
		{"mixture", func(c *Config) { c.Dynamics = DynamicsMixture }, ""},
		{"mixture of 16 without help", func(c *Config) {
			c.Dynamics, c.Components, c.MixtureEntropy, c.MixtureFloor = DynamicsMixture, 16, -1, -1
		}, ""},
		{"mixture floor at its bound", func(c *Config) { c.Dynamics, c.Components, c.MixtureFloor = DynamicsMixture, 2, 0.25 }, ""},
		{"bad dynamics", func(c *Config) { c.Dynamics = "mixtures" }, "dynamics"},
		{"one component", func(c *Config) { c.Dynamics, c.Components = DynamicsMixture, 1 }, "components"},
		{"17 components", func(c *Config) { c.Dynamics, c.Components = DynamicsMixture, 17 }, "components"},
		{"rank mixture", func(c *Config) { c.Dynamics, c.Rank = DynamicsMixture, 1 }, "rank"},
		{"mixture floor above 1/(2M)", func(c *Config) { c.Dynamics, c.MixtureFloor = DynamicsMixture, 0.17 }, "mixture_floor"},
		{"mixture entropy NaN", func(c *Config) { c.MixtureEntropy = math.NaN() }, "mixture_entropy"},
		{"mixture entropy huge", func(c *Config) { c.MixtureEntropy = 11 }, "mixture_entropy"},
		{"bad guard", func(c *Config) { c.Guard = "barlow" }, "guard"},
		{"bad target", func(c *Config) { c.Target = "frozen" }, "target"},
		{"bad value target", func(c *Config) { c.ValueTarget = "mc" }, "value_target"},
		{"expectile", func(c *Config) { c.ValueTarget, c.ValueExpectile = ValueQ, 0.9 }, ""},
		{"expectile 1", func(c *Config) { c.ValueTarget, c.ValueExpectile = ValueQ, 1 }, "value_expectile"},
		{"expectile below ½", func(c *Config) { c.ValueTarget, c.ValueExpectile = ValueQ, 0.3 }, "value_expectile"},
		{"expectile NaN", func(c *Config) { c.ValueTarget, c.ValueExpectile = ValueQ, math.NaN() }, "value_expectile"},
		{"advantage q", func(c *Config) { c.ValueTarget, c.QHead = ValueQ, QHeadAdvantage }, ""},
		{"advantage without q", func(c *Config) { c.ValueTarget, c.QHead = ValueLambda, QHeadAdvantage }, "q_head"},
		{"bad q head", func(c *Config) { c.ValueTarget, c.QHead = ValueQ, "dueling" }, "q_head"},
		{"own q network", func(c *Config) { c.ValueTarget, c.QNet = ValueQ, QNetOwn }, ""},
		{"own q network without q", func(c *Config) { c.ValueTarget, c.QNet = ValueNStep, QNetOwn }, "q_net"},
		{"bad q network", func(c *Config) { c.ValueTarget, c.QNet = ValueQ, "mlp" }, "q_net"},
		{"quantiles", func(c *Config) { c.ValueTarget, c.QQuantiles, c.QQuantileKappa = ValueQ, 64, 0.05 }, ""},
		{"one quantile", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, 1 }, "q_quantiles"},
		{"65 quantiles", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, 65 }, "q_quantiles"},
		{"negative quantiles", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, -2 }, "q_quantiles"},
		{"quantiles without q", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueLambda, 8 }, "q_quantiles"},
		{"quantiles -1 for none", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, -1 }, ""},
		{"quantiles -2", func(c *Config) { c.ValueTarget, c.QQuantiles = ValueQ, -2 }, "q_quantiles"},
		{"negative kappa", func(c *Config) { c.ValueTarget, c.QQuantiles, c.QQuantileKappa = ValueQ, 8, -1 }, "q_quantile_kappa"},
		{"kappa NaN", func(c *Config) { c.QQuantileKappa = math.NaN() }, "q_quantile_kappa"},
		{"expectile without q", func(c *Config) { c.ValueTarget, c.ValueExpectile = ValueLambda, 0.9 }, "value_expectile"},
		{"negative latent", func(c *Config) { c.LatentDim = -1 }, "latent_dim"},
		{"huge hidden", func(c *Config) { c.Hidden = 1 << 20 }, "hidden"},
		{"one knot", func(c *Config) { c.SIGRegKnots = 1 }, "sigreg_knots"},
		{"rank above d", func(c *Config) { c.LatentDim, c.Rank = 4, 5 }, "rank"},
		{"negative rank", func(c *Config) { c.Rank = -1 }, "rank"},
		{"encoder hidden", func(c *Config) { c.EncoderHidden = 256 }, ""},
		{"no encoder hidden layer", func(c *Config) { c.EncoderHidden = -1 }, ""},
		{"negative encoder hidden", func(c *Config) { c.EncoderHidden = -2 }, "encoder_hidden"},
		{"huge encoder hidden", func(c *Config) { c.EncoderHidden = 1 << 15 }, "encoder_hidden"},
		{"rank deterministic", func(c *Config) { c.Rank, c.Dynamics = 1, DynamicsDeterministic }, "rank"},
		{"log var bounds", func(c *Config) { c.MinLogVar, c.MaxLogVar = 1, -1 }, "min_log_var"},
		{"guard weight 1", func(c *Config) { c.GuardWeight = 1 }, "guard_weight"},
		{"rho above 1", func(c *Config) { c.Rho = 1.5 }, "rho"},
		{"ema tau 1", func(c *Config) { c.EMATau = 1 }, "ema_tau"},
		{"discount above 1", func(c *Config) { c.Discount = 1.01 }, "discount"},
		{"lambda negative", func(c *Config) { c.Lambda = -0.1 }, "lambda"},
		{"beta nll 2", func(c *Config) { c.BetaNLL = 2 }, "beta_nll"},
		{"negative reward weight", func(c *Config) { c.RewardWeight = -1 }, "reward_weight"},
		{"negative lr", func(c *Config) { c.LR = -1e-3 }, "lr"},
		{"beta2 1", func(c *Config) { c.Beta2 = 1 }, "beta2"},
		{"negative clip", func(c *Config) { c.GradClip = -1 }, "grad_clip"},
		{"negative floor", func(c *Config) { c.VarFloor = -1 }, "var_floor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			tc.mod(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field+" ") || !strings.Contains(err.Error(), "allowed") || strings.Contains(err.Error(), "\n") {
				t.Errorf("Validate = %q, want one line naming %q and the allowed values", err, tc.field)
			}
		})
	}
}

func TestPresets(t *testing.T) {
	names := PresetNames()
	if len(names) != 2 || names[0] != "debug" || names[1] != "default" {
		t.Fatalf("PresetNames = %v", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("preset %s invalid: %v", name, err)
			}
			if c != c.WithDefaults() {
				t.Errorf("preset %s has unfilled defaults", name)
			}
			// The JSON form round-trips with snake_case names.
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"latent_dim"`) {
				t.Errorf("JSON %s lacks latent_dim", b)
			}
			var back Config
			if err := json.Unmarshal(b, &back); err != nil || back != c {
				t.Errorf("JSON round trip: %v, %+v", err, back)
			}
		})
	}
	if _, err := Preset("huge"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"debug"`) {
		t.Errorf("Preset(huge) = %v, want ErrConfig listing the presets", err)
	}
	def, _ := Preset("default")
	if def != (Config{}).WithDefaults() {
		t.Error("default preset differs from the zero config's defaults")
	}
}

func TestSpecValidate(t *testing.T) {
	cfg := Config{}.WithDefaults()
	cases := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"state", Spec{ObsDim: 4, ActionDim: 2, Discrete: true}, true},
		{"pixels", Spec{Frame: [3]int{32, 32, 3}, ActionDim: 4, Discrete: true}, true},
		{"pixels with obs dim", Spec{ObsDim: 3072, Frame: [3]int{32, 32, 3}, ActionDim: 1}, true},
		{"no actions", Spec{ObsDim: 4}, false},
		{"no obs", Spec{ActionDim: 2}, false},
		{"grey frames", Spec{Frame: [3]int{32, 32, 1}, ActionDim: 2}, false},
		{"wrong obs dim", Spec{ObsDim: 10, Frame: [3]int{32, 32, 3}, ActionDim: 2}, false},
		{"frame below patch", Spec{Frame: [3]int{2, 2, 3}, ActionDim: 2}, false},
		{"stack differs", Spec{ObsDim: 4, Stack: 3, ActionDim: 2}, false},
		{"pixels with an encoder hidden layer", Spec{Frame: [3]int{32, 32, 3}, ActionDim: 1}, true},
		{"state with an encoder hidden layer", Spec{ObsDim: 4, ActionDim: 2}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfg
			if strings.Contains(tc.name, "encoder hidden") {
				cfg.EncoderHidden = 64
			}
			err := tc.spec.withDefaults(cfg).validate(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("validate = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

func TestPixelsToInput(t *testing.T) {
	// Two stacked 2×3 frames.
	const f, h, w = 2, 2, 3
	src := make([]uint8, f*h*w*3)
	for i := range src {
		src[i] = uint8(i * 3)
	}
	dst := make([]float32, len(src))
	PixelsToInput(dst, src, f, h, w)
	for k := 0; k < f; k++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ {
					want := float32(src[((k*h+y)*w+x)*3+c]) / 255
					if got := dst[((k*3+c)*h+y)*w+x]; got != want {
						t.Fatalf("frame %d (%d,%d) channel %d: %g, want %g", k, y, x, c, got, want)
					}
				}
			}
		}
	}
	if a := testing.AllocsPerRun(10, func() { PixelsToInput(dst, src, f, h, w) }); a != 0 {
		t.Errorf("PixelsToInput allocates %g times", a)
	}
	defer func() {
		if recover() == nil {
			t.Error("short dst did not panic")
		}
	}()
	PixelsToInput(dst[:5], src, f, h, w)
}
