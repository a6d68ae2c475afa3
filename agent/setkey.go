package agent

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetKey returns c with one key of a config file set from its text: key
// is the dotted path of KeyDocs ("planner.horizon", "model.frame_stack",
// "explore") and value is read as the YAML scalar a config file would
// hold there ("3", "0.1", "cvar:0.1", "true"). It decodes the document
// {"planner": {"horizon": 3}} over c with ParseConfig, so a value of the
// wrong type is refused as in a config file. An unknown key, or a
// section such as "model" alone, is an error that lists the keys closest
// to it. Defaults are not filled in: a zero value still means the
// default (WithDefaults).
func SetKey(c Config, key, value string) (Config, error) {
	docs := KeyDocs()
	doc, ok := docs[key]
	if !ok {
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		return c, fmt.Errorf("%w: unknown key %q (allowed: a dotted key of a config file, such as %s)",
			ErrConfig, key, strings.Join(closeKeys(key, keys, 4), ", "))
	}
	bad := func(why string) error {
		if strings.Contains(why, "(allowed: ") {
			return fmt.Errorf("%w: %s %q is not valid: %s", ErrConfig, key, value, why)
		}
		return fmt.Errorf("%w: %s %q is not valid: %s (allowed: %s)", ErrConfig, key, value, why, doc)
	}
	var v any
	if err := yaml.Unmarshal([]byte(value), &v); err != nil {
		return c, bad(firstLine(err.Error()))
	}
	switch v.(type) {
	case nil:
		return c, bad("no value")
	case map[string]any, []any:
		return c, bad("not a single value")
	}
	parts := strings.Split(key, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		v = map[string]any{parts[i]: v}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return c, bad(err.Error())
	}
	out, err := ParseConfig(data, true, c)
	if err != nil {
		return c, bad(strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
	}
	return out, nil
}

// closeKeys returns at most n of keys closest to key: first those inside
// key as a section ("model" → "model.…") or ending in it ("horizon" →
// "planner.horizon"), then by edit distance, ties by name.
func closeKeys(key string, keys []string, n int) []string {
	dist := func(k string) int {
		if strings.HasPrefix(k, key+".") || strings.HasSuffix(k, "."+key) {
			return 0
		}
		return 1 + editDistance(key, k)
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b string) int {
		if d := dist(a) - dist(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return keys[:min(n, len(keys))]
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
