package compare

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/agent"
)

// ErrVary reports a varied config key or value that cannot be used.
var ErrVary = errors.New("bad vary")

// varyAllowed is the form of a --vary argument, for error messages.
const varyAllowed = "allowed: KEY=V1,V2,… such as planner.horizon=1,3,5"

// Vary is one config key a comparison varies and the values it takes.
type Vary struct {
	// Key is a dotted key of a config file, such as "planner.horizon"
	// (agent.KeyDocs lists them).
	Key string
	// Values are the values as text, each read as a YAML scalar (see
	// agent.SetKey).
	Values []string
}

// ParseVary parses "KEY=V1,V2,…", such as "planner.horizon=1,3,5" (the
// argument of dream compare --vary) and checks it (see Vary.Check).
// Spaces around the key and the values are dropped.
func ParseVary(s string) (Vary, error) {
	key, list, ok := strings.Cut(s, "=")
	if !ok {
		return Vary{}, fmt.Errorf("%w: no \"=\" (%s)", ErrVary, varyAllowed)
	}
	v := Vary{Key: strings.TrimSpace(key)}
	if strings.TrimSpace(list) != "" {
		for _, val := range strings.Split(list, ",") {
			v.Values = append(v.Values, strings.TrimSpace(val))
		}
	}
	return v, v.Check()
}

// fixedKey says why a key cannot be varied, and false if it can.
func fixedKey(key string) (string, bool) {
	switch key {
	case "seed":
		return "seed cannot be varied: every arm runs the seeds 0…N−1 (use --seeds)", true
	case "model.dynamics":
		return "model.dynamics cannot be varied here (use --dynamics, which lists the dynamics to compare)", true
	case "env", "map":
		return key + " cannot be varied: a comparison runs on one environment (allowed: any other key; run one comparison per environment)", true
	}
	return "", false
}

// Check reports, as an error wrapping ErrVary, a key that cannot be
// varied (seed, model.dynamics, env, map: the sweep's seeds and dynamics
// and its one environment), no values, and a value that is empty, given
// twice, or holds a character that separates values or directories
// ("," or "/"). Whether the key exists and the values fit it is checked
// by Variants.
func (v Vary) Check() error {
	if v.Key == "" {
		return fmt.Errorf("%w: no key before \"=\" (%s)", ErrVary, varyAllowed)
	}
	if why, ok := fixedKey(v.Key); ok {
		return fmt.Errorf("%w: %s", ErrVary, why)
	}
	if len(v.Values) == 0 {
		return fmt.Errorf("%w: %s has no values (%s)", ErrVary, v.Key, varyAllowed)
	}
	for i, val := range v.Values {
		switch {
		case val == "":
			return fmt.Errorf("%w: %s has an empty value (%s)", ErrVary, v.Key, varyAllowed)
		case strings.Contains(val, ","):
			return fmt.Errorf("%w: %s value %q holds \",\", which separates values (allowed: one value per item)", ErrVary, v.Key, val)
		case strings.ContainsAny(val, `/\`):
			return fmt.Errorf("%w: %s value %q holds a path separator, which a run directory's name cannot (allowed: values without / or \\)", ErrVary, v.Key, val)
		case slices.Contains(v.Values[:i], val):
			return fmt.Errorf("%w: %s value %q is given twice (allowed: each value once)", ErrVary, v.Key, val)
		}
	}
	return nil
}

// Variant is one config a comparison runs every dynamics and seed with.
type Variant struct {
	// Label names the variant by the keys in which the variants of the
	// comparison differ, sorted, each with its value read back from
	// Config, such as "model.frame_stack=1,planner.horizon=3" (see
	// VariantLabel); "" where nothing differs.
	Label string
	// Config is the resolved config (agent.Config.WithDefaults).
	Config agent.Config
}

// Variants returns the variants of base that the cartesian product of
// vary's values makes, sorted by label (VariantOrder). Each sets its
// values on base with agent.SetKey and then fills in the defaults, so a
// default that derives from a varied key follows it, as it would follow
// the flag (base should come before WithDefaults). The labels are those
// a merge derives from the run configs (VariantLabel), so sweeps and
// merges agree on them.
//
// It is an error wrapping ErrVary if a Vary fails Check, a key is given
// twice, a value does not fit its key, a variant's config fails
// Validate, two variants resolve to the same config, or a resolved value
// cannot name a run directory. No vary gives no variants.
func Variants(base agent.Config, vary []Vary) ([]Variant, error) {
	if len(vary) == 0 {
		return nil, nil
	}
	vary = slices.Clone(vary)
	slices.SortStableFunc(vary, func(a, b Vary) int { return strings.Compare(a.Key, b.Key) })
	for i, v := range vary {
		if err := v.Check(); err != nil {
			return nil, err
		}
		if i > 0 && vary[i-1].Key == v.Key {
			return nil, fmt.Errorf("%w: %s is given twice (allowed: each key once, with all its values, such as %s=1,3,5)", ErrVary, v.Key, v.Key)
		}
	}
	// given is how the user wrote the variant, for errors.
	type combo struct {
		given string
		cfg   agent.Config
	}
	combos := []combo{{cfg: base}}
	for _, v := range vary {
		next := make([]combo, 0, len(combos)*len(v.Values))
		for _, c := range combos {
			for _, val := range v.Values {
				cfg, err := agent.SetKey(c.cfg, v.Key, val)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrVary, err)
				}
				given := v.Key + "=" + val
				if c.given != "" {
					given = c.given + "," + given
				}
				next = append(next, combo{given, cfg})
			}
		}
		combos = next
	}
	configs := make([]agent.Config, len(combos))
	for i := range combos {
		configs[i] = combos[i].cfg.WithDefaults()
		if err := configs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVary, combos[i].given, err)
		}
	}
	keys := VariedKeys(configs)
	out := make([]Variant, len(combos))
	byLabel := map[string]string{}
	for i, c := range configs {
		label, err := VariantLabel(c, keys)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVary, combos[i].given, err)
		}
		if prev, ok := byLabel[label]; ok {
			return nil, fmt.Errorf("%w: %s and %s resolve to the same config once defaults are filled in (allowed: values that differ)", ErrVary, prev, combos[i].given)
		}
		byLabel[label] = combos[i].given
		out[i] = Variant{Label: label, Config: c}
	}
	slices.SortFunc(out, func(a, b Variant) int { return VariantOrder(a.Label, b.Label) })
	return out, nil
}

// flatten maps every dotted key of c's JSON form to its value (numbers
// as json.Number, so that their text is kept).
func flatten(c agent.Config) map[string]any {
	data, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("compare: a config does not encode as JSON: %v", err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		panic(fmt.Sprintf("compare: a config does not round-trip through JSON: %v", err))
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", doc)
	return out
}

// diffKeys lists the dotted keys at which two flattened configs differ,
// sorted.
func diffKeys(a, b map[string]any) []string {
	var out []string
	for k, va := range a {
		if vb, ok := b[k]; !ok || !reflect.DeepEqual(va, vb) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// VariedKeys lists the dotted keys in which the configs differ, their
// dynamics and seeds aside, sorted: the keys a comparison of them
// varies. It is empty for fewer than two configs.
func VariedKeys(configs []agent.Config) []string {
	if len(configs) < 2 {
		return nil
	}
	first := flatten(shared(configs[0]))
	var keys []string
	// A key differs between two configs only if one of them differs from
	// the first there.
	for _, c := range configs[1:] {
		keys = append(keys, diffKeys(first, flatten(shared(c)))...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// VariantLabel is the label of the variant c of a comparison that varies
// keys: "key=value" for every key, joined by ",", such as
// "model.frame_stack=1,planner.horizon=3", the value being the JSON text
// of c's value (strings unquoted), so that "0.10" and "0.1" are one
// value. It is an error if a value is empty or holds a character that a
// label or a run directory's name cannot (",", "=", "/", "\", a space).
func VariantLabel(c agent.Config, keys []string) (string, error) {
	flat := flatten(c)
	parts := make([]string, len(keys))
	for i, k := range keys {
		var text string
		switch v := flat[k].(type) {
		case nil:
			text = ""
		case string:
			text = v
		default:
			b, _ := json.Marshal(v)
			text = string(b)
		}
		if text == "" || strings.ContainsAny(text, ",=/\\ \t\n") {
			return "", fmt.Errorf("%s resolves to %q, which cannot name a run (allowed: a value without \",\", \"=\", \"/\", \"\\\" or spaces)", k, text)
		}
		parts[i] = k + "=" + text
	}
	return strings.Join(parts, ","), nil
}

// labelPair is one "key=value" of a variant label.
type labelPair struct{ key, value string }

// parseLabel splits a variant label into its keys and values.
func parseLabel(label string) []labelPair {
	if label == "" {
		return nil
	}
	var out []labelPair
	for _, part := range strings.Split(label, ",") {
		k, v, _ := strings.Cut(part, "=")
		out = append(out, labelPair{k, v})
	}
	return out
}

// VariantOrder orders variant labels key by key: numbers by value
// (planner.horizon=3 before planner.horizon=10) and before other values,
// which go by name; "" (no variant) comes first.
func VariantOrder(a, b string) int {
	pa, pb := parseLabel(a), parseLabel(b)
	for i := range min(len(pa), len(pb)) {
		if c := strings.Compare(pa[i].key, pb[i].key); c != 0 {
			return c
		}
		x, errx := strconv.ParseFloat(pa[i].value, 64)
		y, erry := strconv.ParseFloat(pb[i].value, 64)
		switch {
		case errx == nil && erry != nil:
			return -1
		case errx != nil && erry == nil:
			return 1
		case errx == nil && x != y:
			return cmp.Compare(x, y)
		}
		if c := strings.Compare(pa[i].value, pb[i].value); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}
