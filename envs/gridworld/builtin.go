package gridworld

import (
	"bytes"
	"embed"
	"fmt"
)

// builtinMaps holds the built-in maps, written in the map format.
//
//go:embed maps/*.map
var builtinMaps embed.FS

// builtin parses the embedded map file maps/name.map. The files ship with
// the package, so a parse error is a programmer error.
func builtin(name string) *Map {
	path := "maps/" + name + ".map"
	data, err := builtinMaps.ReadFile(path)
	if err != nil {
		panic(fmt.Sprintf("gridworld: built-in map %s: %v", path, err))
	}
	m, err := ParseMap(bytes.NewReader(data), path)
	if err != nil {
		panic(fmt.Sprintf("gridworld: built-in map: %v", err))
	}
	return m
}

// FrozenLake4x4 is Gymnasium's FrozenLake-v1 with its default 4×4 map and
// is_slippery=True (gymnasium/envs/toy_text/frozen_lake.py):
//
//	SFFF
//	FHFH
//	FFFH
//	HFFG
//
// Each move goes the intended way with probability 1/3 and to each
// perpendicular side with probability 1/3; a move off the grid stays put;
// reaching G pays 1, everything else 0; the episode terminates on H or G
// and is truncated after 100 steps (the registered TimeLimit). The best
// policy reaches the goal within the limit with probability ≈ 0.744.
func FrozenLake4x4() *Env { return New(builtin("frozenlake-4x4")) }

// FrozenLake8x8 is Gymnasium's FrozenLake8x8-v1 (FrozenLake-v1 with
// map_name="8x8", is_slippery=True), truncated after 200 steps:
//
//	SFFFFFFF
//	FFFFFFFF
//	FFFHFFFF
//	FFFFFHFF
//	FFFHFFFF
//	FHHFFFHF
//	FHFFHFHF
//	FFFHFFFG
//
// The dynamics and rewards are FrozenLake4x4's. The best policy reaches
// the goal within the limit with probability ≈ 0.913.
func FrozenLake8x8() *Env { return New(builtin("frozenlake-8x8")) }

// Windy is the windy gridworld of Sutton & Barto, Reinforcement Learning:
// An Introduction (2nd ed., 2018), Example 6.5, with the stochastic wind of
// Exercise 6.10 and the four moves of the example: 7 rows by 10 columns,
// start (3, 0), goal (3, 7), and an upward wind by column
//
//	column  0 1 2 3 4 5 6 7 8 9
//	wind    0 0 0 1 1 1 2 2 1 0
//
// taken from the column the agent leaves. In a column with wind w ≠ 0 the
// push is w − 1, w or w + 1 with probability 1/3 each; positions are
// clamped to the grid. Every step pays −1 (the one that reaches the goal
// included) and the goal terminates. Episodes are truncated after 200
// steps, which the book's task does not have, so that a policy that never
// reaches the goal still ends.
func Windy() *Env { return New(builtin("windy")) }

// CliffIce is a 6×9 layout where a short route crosses ice beside a lake
// and a long route around a rock is safe:
//
//	.........
//	.#######.
//	.#######.
//	.#######.
//	S...II..G
//	HHHHHHHHH
//
// Moves from the two ice tiles slip with probability 0.3 (0.15 into the
// rock, which wastes the step, and 0.15 into the lake below, which ends the
// episode); moves elsewhere are exact. Reaching G pays 1, a hole 0, every
// other step −0.05, and episodes are truncated after 100 steps.
//
// The safe route (up, across the top, down) takes 16 steps and returns
// exactly 1 − 15·0.05 = 0.25. The route along the shore takes 8 steps when
// nothing slips. Its expected return, ≈ 0.353, is the best of all
// policies, but it falls in the lake with probability ≈ 0.32, returning
// about −0.28 on average in its worst 10 % of episodes. So a planner that
// maximises the mean crosses the ice, while one that maximises CVaR at
// 10 % takes the rock; a model that predicts only the mean outcome cannot
// tell the two apart. (Exact values from finite-horizon value iteration;
// see the package tests.)
//
// Its registry name is gridworld/cliff-ice.
func CliffIce() *Env { return New(builtin("cliff-ice")) }
