// Package gridworld provides grid environments for dream: Gymnasium's
// FrozenLake-v1 (4×4 and 8×8, slippery), Sutton & Barto's windy gridworld
// with stochastic wind, a cliff-and-ice layout where the spread of outcomes
// matters, and any map a user writes in the map format below.
//
// Each environment is an *Env, which implements envs.Simulator and
// envs.StateSetter. Actions are Gymnasium FrozenLake's, given in a[0]:
//
//	0 left, 1 down, 2 right, 3 up
//
// The state is [row, col] (row 0 at the top, col 0 at the left). The state
// observation written by Vector is the one-hot of the agent's cell, of
// length rows·cols, index row·cols + col. Frames are drawn by Render.
//
// # Map format
//
// A map file is UTF-8 text: optional header lines first, then the grid, one
// row per line. Trailing whitespace (spaces, tabs, a carriage return) is
// trimmed from every line, a trailing newline is fine, and blank lines
// before and after the grid are ignored; the grid itself is contiguous.
// There is no comment syntax ('#' is a wall tile).
//
// A header line is `key = value` (spaces around '=' optional): before the
// grid, every line holding '=' is one. Each key appears at most once. Keys and their defaults:
//
//	slip        = 0     probability that a move goes sideways, in [0, 1]
//	slip_tiles  = ice   ice: moves made from I tiles slip; all: moves from every tile
//	goal_reward = 1     reward for the step that enters a G tile
//	hole_reward = 0     reward for the step that enters an H tile
//	step_reward = 0     reward for every other step
//	max_steps   = 100   time limit: the step that reaches it is truncated (≥ 1)
//	wind        = none  one integer per column: upward push out of that column
//	wind_noise  = 0     in a column with wind w ≠ 0, the push is uniform on w−k … w+k
//	budget      = none  environment steps a run trains when it sets none (≥ 1)
//
// Numbers are decimals (0.3, -0.05, 1e-2) or fractions (2/3). max_steps,
// wind, wind_noise and budget take integers; wind values are separated by spaces or
// commas, and their count must equal the number of columns.
//
// Grid tiles, one character each; all rows have the same length:
//
//	S      start (exactly one); behaves as floor
//	. or F floor
//	#      wall: a move into it leaves the agent where it was
//	H      hole: terminal, pays hole_reward
//	G      goal: terminal, pays goal_reward (one or more)
//	I      ice: moves made from it slip when slip_tiles = ice
//
// Grids may be up to MaxSide×MaxSide (256×256).
//
// # Dynamics
//
// A step from cell (r, c) with action a goes as follows.
//
//  1. Slip. If the move slips (slip > 0 and the tile is ice, or slip_tiles =
//     all), the direction actually taken is (a−1) mod 4 with probability
//     slip/2, a with probability 1 − slip, and (a+1) mod 4 with probability
//     slip/2: the two perpendicular directions share the slip. This is
//     gymnasium/envs/toy_text/frozen_lake.py's order, so slip = 2/3 with
//     slip_tiles = all is FrozenLake-v1 with is_slippery=True.
//  2. Wind. With a wind row, the push w = wind[c] of the column being left
//     (plus the noise) moves the agent w rows up (down when w < 0), as in
//     Sutton & Barto (2018), Example 6.5 and Exercise 6.10.
//  3. Destination. The displacement of steps 1 and 2 is applied at once and
//     clamped to the grid; a destination on a wall leaves the agent in
//     place (wind blows over walls; it never stops on one). Without wind a
//     move off the grid therefore stays put, as in FrozenLake.
//  4. Reward and flags. Entering G pays goal_reward and terminates,
//     entering H pays hole_reward and terminates, any other step pays
//     step_reward. The step that brings the episode's step count to
//     max_steps is truncated, as Gymnasium's TimeLimit does (it may also be
//     terminated). Stepping from a terminal tile stays there with reward 0
//     and terminated set, as FrozenLake-v1 does.
//
// Transitions returns this model exactly, and OptimalSuccess and
// OptimalValues solve it by finite-horizon value iteration.
//
// # Example
//
// FrozenLake 4×4 in the format:
//
//	slip = 2/3
//	slip_tiles = all
//	max_steps = 100
//
//	SFFF
//	FHFH
//	FFFH
//	HFFG
package gridworld
