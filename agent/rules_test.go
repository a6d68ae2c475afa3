package agent

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

func TestRules(t *testing.T) {
	for _, c := range []struct {
		limit int
		want  float64
	}{
		{0, 0.99}, {-5, 0.99}, {1, 0.99}, {50, 0.99}, {100, 0.99},
		{150, 0.9933}, {200, 0.995}, {500, 0.995}, {1_000_000, 0.995},
	} {
		if got := DiscountFor(envs.Traits{TimeLimit: c.limit, FiniteStates: true}); got != c.want {
			t.Errorf("DiscountFor(%d, finite states) = %v, want %v", c.limit, got, c.want)
		}
		if got := DiscountFor(envs.Traits{TimeLimit: c.limit}); got != 0.99 {
			t.Errorf("DiscountFor(%d) = %v, want 0.99", c.limit, got)
		}
	}
	for _, c := range []struct {
		obs          string
		frameIsState bool
		stack        int
		hidden       int
	}{
		{"pixels", false, 3, 128},
		{"pixels", true, 1, -1},
		{"state", false, 1, -1},
		{"state", true, 1, -1},
	} {
		s := FrameStackFor(c.obs, envs.Traits{FiniteStates: c.frameIsState})
		if s != c.stack {
			t.Errorf("FrameStackFor(%s, frame is state %v) = %d, want %d", c.obs, c.frameIsState, s, c.stack)
		}
		if h := EncoderHiddenFor(s); h != c.hidden {
			t.Errorf("EncoderHiddenFor(%d) = %d, want %d", s, h, c.hidden)
		}
	}
	finite := envs.Traits{Actions: envs.KindDiscrete, FiniteStates: true}
	if x := ExplorationFor(finite); x.Directed <= 0 || x.Explore >= 0.5 {
		t.Errorf("finite states, discrete actions: %+v, want directed exploration and a small ε", x)
	}
	for _, tr := range []envs.Traits{{Actions: envs.KindDiscrete}, {Actions: envs.KindBox}, {Actions: envs.KindBox, FiniteStates: true}} {
		if x := ExplorationFor(tr); x.Directed != 0 || x.Explore != 0.5 || x.Final != 0.05 {
			t.Errorf("%v: %+v, want 0.5 → 0.05 and no directed exploration", tr, x)
		}
	}
	if v := ValueLearningFor(finite); v.AverageTau <= 0 || v.LRFinal >= 1 || v.Expectile < 0.5 || v.Weight <= 1 || v.QHead != worldmodel.QHeadAdvantage {
		t.Errorf("finite states: %+v, want averaged weights, a falling rate, an expectile, weight > 1, the advantage", v)
	}
	if v := ValueLearningFor(envs.Traits{Actions: envs.KindBox}); v != (ValueLearning{LRFinal: 1}) {
		t.Errorf("no finite states: %+v, want the model's defaults and a constant rate", v)
	}
	if BudgetFor(envs.Traits{}) != DefaultBudget || BudgetFor(envs.Traits{Budget: 7}) != 7 {
		t.Error("BudgetFor: want the declared budget, else DefaultBudget")
	}
}

// TestRulesFromTraits checks that the built-in environments' configs
// follow the rules from what each declares: the time limit's discount, the
// observation kind's frames, the action space's exploration.
func TestRulesFromTraits(t *testing.T) {
	for _, c := range []struct {
		env, obs   string
		steps      int
		discount   float64
		frames     int
		hidden     int
		directed   float64
		explore    float64
		exploreEnd float64
	}{
		{"gridworld/frozenlake-4x4", "pixels", 20000, 0.99, 1, -1, 0.3, 0.1, 0.02},
		{"gridworld/frozenlake-8x8", "state", 100000, 0.995, 1, -1, 0.3, 0.1, 0.02},
		{"gridworld/windy", "pixels", 50000, 0.995, 1, -1, 0.3, 0.1, 0.02},
		{"physics/cartpole", "pixels", 50000, 0.99, 3, 128, 0, 0.5, 0.05},
		{"physics/cartpole", "state", 50000, 0.99, 1, -1, 0, 0.5, 0.05},
		{"physics/pendulum", "pixels", 30000, 0.99, 3, 128, 0, 0.5, 0.05},
		{"physics/pendulum-gusty", "state", 30000, 0.99, 1, -1, 0, 0.5, 0.05},
		{"physics/mountaincar", "pixels", 50000, 0.99, 3, 128, 0, 0.5, 0.05},
	} {
		cfg, err := Preset("default")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Env, cfg.Obs = c.env, c.obs
		cfg = cfg.WithDefaults()
		got := []any{cfg.Steps, cfg.Model.Discount, cfg.Planner.Discount, cfg.Model.FrameStack, cfg.Model.EncoderHidden, cfg.ExploreDirected, cfg.Explore, cfg.ExploreFinal}
		want := []any{c.steps, c.discount, c.discount, c.frames, c.hidden, c.directed, c.explore, c.exploreEnd}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s from %s: steps, discounts, frames, hidden, directed, explore, final = %v, want %v", c.env, c.obs, got, want)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s from %s: %v", c.env, c.obs, err)
		}
	}
}

// TestMapFilesResolveLikeBuiltins checks that a built-in map read from its
// file in testdata/maps resolves to the config of the built-in name, but
// for env and map.
func TestMapFilesResolveLikeBuiltins(t *testing.T) {
	var names []string
	for _, n := range registry.Names() {
		if m, ok := strings.CutPrefix(n, "gridworld/"); ok {
			names = append(names, m)
		}
	}
	if len(names) < 4 {
		t.Fatalf("built-in gridworlds: %v", names)
	}
	for _, name := range names {
		for _, obs := range []string{"pixels", "state"} {
			for _, preset := range []string{"default", "debug"} {
				base, err := Preset(preset)
				if err != nil {
					t.Fatal(err)
				}
				base.Obs = obs
				builtin, file := base, base
				builtin.Env = "gridworld/" + name
				file.Env, file.Map = "gridworld", filepath.Join("..", "testdata", "maps", name+".map")
				a, b := builtin.WithDefaults(), file.WithDefaults()
				if err := b.Validate(); err != nil {
					t.Fatalf("%s: %v", file.Map, err)
				}
				b.Env, b.Map = a.Env, a.Map
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if string(ja) != string(jb) {
					t.Errorf("%s from %s, preset %s: the map file resolves to\n%s\nthe built-in to\n%s", name, obs, preset, jb, ja)
				}
			}
		}
	}
}

// TestNoDefaultKeyedOnAName fails if the agent package's source names an
// environment (a registered name, or a family such as "gridworld/" or
// "cartpole") anywhere but in DefaultEnv, or branches on a config's Env
// (a comparison, a switch or a strings function) anywhere but in
// ValidateIn, which checks that a map file goes with the environment
// "gridworld" and Python options with a Gymnasium one: every default that
// depends on the environment must come from its declared traits
// (rules.go). Budgets are declared by the environments themselves.
func TestNoDefaultKeyedOnAName(t *testing.T) {
	names := map[string]bool{}
	for _, n := range registry.Names() {
		names[n] = true
	}
	families := []string{"gridworld/", "physics/", "frozenlake", "cartpole", "pendulum", "acrobot", "mountaincar", "windy", "cliff-ice"}
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name == "ValidateIn" || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				var operands []ast.Expr
				switch n := n.(type) {
				case *ast.BinaryExpr:
					if n.Op == token.EQL || n.Op == token.NEQ {
						operands = []ast.Expr{n.X, n.Y}
					}
				case *ast.SwitchStmt:
					operands = []ast.Expr{n.Tag}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "strings" {
							operands = n.Args
						}
					}
				}
				for _, x := range operands {
					sel, ok := x.(*ast.SelectorExpr)
					if !ok || sel.Sel.Name != "Env" {
						continue
					}
					if lit, ok := otherOperand(n, x).(*ast.BasicLit); ok && lit.Value == `""` {
						continue // an unset env takes DefaultEnv
					}
					t.Errorf("%s: %s branches on the environment's name; derive the setting from envs.Traits (rules.go)", fset.Position(x.Pos()), fn.Name.Name)
				}
				return true
			})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "DefaultEnv" {
				return false // the environment of a config that names none
			}
			if fn, ok := n.(*ast.FuncDecl); ok && fn.Name.Name == "ValidateIn" {
				return false // a map file goes with the environment "gridworld"
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			low := strings.ToLower(s)
			bad := names[s]
			for _, fam := range families {
				bad = bad || strings.Contains(low, fam) && !strings.Contains(low, " ")
			}
			if bad {
				t.Errorf("%s: the string %q names an environment; derive the setting from envs.Traits (rules.go)", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked %d files", checked)
	}
}

// otherOperand is the operand of a comparison n beside x, or nil.
func otherOperand(n ast.Node, x ast.Expr) ast.Expr {
	if b, ok := n.(*ast.BinaryExpr); ok {
		if b.X == x {
			return b.Y
		}
		return b.X
	}
	return nil
}
