"""The stand-in's environments, registered as dreamtest/NAME-v0.

  Corridor      discrete: Discrete(3, start=-1) moves -1, 0, +1 along a
                corridor of `length` cells (default 6) that slip the other
                way with probability `slip`; +1 at the last cell
                (terminated), -0.05 a step; 30-step limit. Observation
                Box(0, 1, (2,), float32): position / (length-1) and 0.1·t.
                chatty=True prints to stdout on every step; discrete_obs=True
                observes Discrete(length), the cell; sleep=S sleeps S seconds
                in every step.
  PointMass     continuous: a 1-D point mass pushed by Box(-1, 1, (1,),
                float32), with seeded noise; reward -x² - 0.01·a²;
                terminated when |x| > 2; 50-step limit. Observation
                Box(-inf, inf, (2,), float64): position and velocity.
  DictAction    a Dict action space (unsupported).
  DictObs       a Dict observation space (unsupported with --obs state).
  InfAction     a Box of actions with infinite bounds (unsupported).
  Crash         Corridor whose process exits (status 3) at its crash_at-th
                step (default 3), counted over all its episodes.
  Garbage       Corridor that writes garbage onto the bridge's protocol
                stream at its garbage_at-th step (default 3).
  Raise         Corridor whose step raises at its raise_at-th step.

Each renders an rgb_array frame. Everything random comes from np_random,
which reset(seed=…) seeds, so an episode follows from its seed and actions.
"""

import os
import sys
import time

import numpy as np

from gymnasium import register, spaces
from gymnasium.core import Env


class Corridor(Env):
    def __init__(self, render_mode=None, length=6, slip=0.2, chatty=False, discrete_obs=False, sleep=0):
        self.render_mode = render_mode
        self.sleep = float(sleep)
        self.length = int(length)
        self.slip = float(slip)
        self.chatty = chatty
        self.discrete_obs = discrete_obs
        self.action_space = spaces.Discrete(3, start=-1)
        self.observation_space = spaces.Box(0, 1, (2,), np.float32)
        if discrete_obs:
            self.observation_space = spaces.Discrete(self.length)
        self.pos = 0
        self.t = 0

    def obs(self):
        if self.discrete_obs:
            return self.pos
        return np.array([self.pos / (self.length - 1), 0.1 * self.t], dtype=np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = int(self.np_random.integers(0, self.length // 2))
        self.t = 0
        return self.obs(), {}

    def step(self, action):
        if self.sleep:
            time.sleep(self.sleep)
        move = int(action)
        assert move in (-1, 0, 1), "action %r is not in Discrete(3, start=-1)" % (action,)
        if move != 0 and self.np_random.random() < self.slip:
            move = -move
        self.pos = min(max(self.pos + move, 0), self.length - 1)
        self.t += 1
        if self.chatty:
            print("corridor: step", self.t)
            os.write(1, b"corridor: raw bytes on file descriptor 1\n")
        terminated = self.pos == self.length - 1
        return self.obs(), 1.0 if terminated else -0.05, terminated, False, {}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        cell = 8
        img = np.full((cell, cell * self.length, 3), 30, dtype=np.uint8)
        img[:, (self.length - 1) * cell:, :] = (0, 160, 0)
        x = self.pos * cell
        img[1:cell - 1, x + 1:x + cell - 1, :] = (220, 200, 40)
        return img


class PointMass(Env):
    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.state = np.zeros(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = np.array([self.np_random.uniform(-1, 1), 0.0])
        return self.state.copy(), {}

    def step(self, action):
        a = float(np.clip(action, -1, 1)[0])
        x, v = self.state
        v = v + 0.1 * (a - 0.1 * v) + 0.01 * self.np_random.normal()
        x = x + 0.1 * v
        self.state = np.array([x, v])
        reward = -x * x - 0.01 * a * a
        return self.state.copy(), reward, bool(abs(x) > 2), False, {}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        img = np.zeros((24, 40, 3), dtype=np.uint8)
        img[12, :, :] = 90
        col = int(np.clip((self.state[0] + 2) / 4 * 39, 0, 39))
        img[8:16, max(col - 2, 0):col + 3, 0] = 255
        return img


class DictAction(Corridor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = spaces.Dict({"move": spaces.Discrete(3)})


class DictObs(Corridor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.observation_space = spaces.Dict({"position": spaces.Discrete(6)})


class InfAction(PointMass):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)


class Crash(Corridor):
    def __init__(self, crash_at=3, **kwargs):
        super().__init__(**kwargs)
        self.crash_at = int(crash_at)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.crash_at:
            sys.stderr.write("stand-in: crashing on purpose at step %d\n" % self.steps)
            sys.stderr.flush()
            os._exit(3)
        return super().step(action)


class Garbage(Corridor):
    def __init__(self, garbage_at=3, **kwargs):
        super().__init__(**kwargs)
        self.garbage_at = int(garbage_at)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.garbage_at:
            bridge = sys.modules["__main__"]
            os.write(bridge.PROTOCOL_OUT, b"this is not dream's protocol\n")
        return super().step(action)


class Raise(Corridor):
    def __init__(self, raise_at=3, **kwargs):
        super().__init__(**kwargs)
        self.raise_at = int(raise_at)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.raise_at:
            raise RuntimeError("stand-in: step failed on purpose")
        return super().step(action)


register("dreamtest/Corridor-v0", Corridor, max_episode_steps=30)
register("dreamtest/PointMass-v0", PointMass, max_episode_steps=50)
register("dreamtest/DictAction-v0", DictAction, max_episode_steps=30)
register("dreamtest/DictObs-v0", DictObs, max_episode_steps=30)
register("dreamtest/InfAction-v0", InfAction, max_episode_steps=50)
register("dreamtest/Crash-v0", Crash, max_episode_steps=30)
register("dreamtest/Garbage-v0", Garbage, max_episode_steps=30)
register("dreamtest/Raise-v0", Raise, max_episode_steps=30)
