"""A stand-in for the gymnasium package, for dream's tests (CI has no
gymnasium). It implements only the names dream's bridge uses (make,
spaces.Discrete, spaces.Box, Env.reset(seed=…), step, render, close,
error.NameNotFound) and registers small environments under the namespace
"dreamtest" (gymnasium/dreamtest.py lists them). Put testdata/gym first on
PYTHONPATH to use it.
"""

from gymnasium import error, spaces
from gymnasium.core import Env, EnvSpec, TimeLimit

__version__ = "0.0+dream-stand-in"

_registry = {}


def register(id, entry_point, max_episode_steps=None):
    _registry[id] = (entry_point, max_episode_steps)


def make(id, max_episode_steps=None, render_mode=None, **kwargs):
    if id not in _registry:
        raise error.NameNotFound("Environment `%s` doesn't exist." % id)
    entry_point, steps = _registry[id]
    env = entry_point(render_mode=render_mode, **kwargs)
    if max_episode_steps is not None:
        steps = max_episode_steps
    env.spec = EnvSpec(id, steps)
    if steps is not None:
        env = TimeLimit(env, steps)
    return env


def pprint_registry():
    for id in sorted(_registry):
        print(id)


from gymnasium import dreamtest  # noqa: E402  (registers the environments)
