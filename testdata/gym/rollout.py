"""Prints the stand-in's own rollout, for the test that compares it with
the same rollout through dream's bridge.

usage: rollout.py JSON, where JSON is
  {"id": ID, "kwargs": {...}, "episodes": [{"seed": S, "actions": [...]}, ...]}
and an action is a Discrete index (the environment's action is
start + index) or a list of numbers (a Box, cast to its dtype). It prints
one JSON object per line: per episode the reset observation and frame, then
per step the observation, reward, flags and frame, stopping at the end of
the episode. Observations are lists of float64 (repr round-trips exactly);
frames are the SHA-256 of their RGB bytes.
"""

import hashlib
import json
import sys

import numpy as np

import gymnasium
from gymnasium import spaces


def frame_hash(env):
    f = np.ascontiguousarray(env.render())
    return "%dx%d:%s" % (f.shape[0], f.shape[1], hashlib.sha256(f.tobytes()).hexdigest())


def main():
    req = json.loads(sys.argv[1])
    env = gymnasium.make(req["id"], render_mode="rgb_array", **req.get("kwargs", {}))
    space = env.action_space
    for ep in req["episodes"]:
        obs, _ = env.reset(seed=ep["seed"])
        print(json.dumps({"obs": np.asarray(obs, dtype=np.float64).ravel().tolist(), "frame": frame_hash(env)}))
        for a in ep["actions"]:
            if isinstance(space, spaces.Discrete):
                action = int(space.start) + int(a)
            else:
                action = np.asarray(a, dtype=np.float64).reshape(space.shape).astype(space.dtype)
            obs, reward, terminated, truncated, _ = env.step(action)
            print(json.dumps({"obs": np.asarray(obs, dtype=np.float64).ravel().tolist(), "reward": float(reward),
                              "terminated": bool(terminated), "truncated": bool(truncated), "frame": frame_hash(env)}))
            if terminated or truncated:
                break


if __name__ == "__main__":
    main()
