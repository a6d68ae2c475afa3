"""The stand-in's Env, EnvSpec and TimeLimit."""

import numpy as np


class EnvSpec:
    def __init__(self, id, max_episode_steps):
        self.id = id
        self.max_episode_steps = max_episode_steps


class Env:
    """Gymnasium's Env: reset(seed=…) seeds np_random as Gymnasium does
    (a PCG64 generator of the seed)."""

    spec = None
    np_random = None

    def reset(self, seed=None, options=None):
        if seed is not None or self.np_random is None:
            self.np_random = np.random.Generator(np.random.PCG64(seed))

    def render(self):
        return None

    def close(self):
        pass


class TimeLimit:
    """Truncates episodes after max_episode_steps, as gymnasium.make's
    TimeLimit wrapper does."""

    def __init__(self, env, max_episode_steps):
        self.env = env
        self.max_episode_steps = max_episode_steps
        self.elapsed = 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kwargs):
        self.elapsed = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed += 1
        if self.elapsed >= self.max_episode_steps:
            truncated = True
        return obs, reward, terminated, truncated, info
