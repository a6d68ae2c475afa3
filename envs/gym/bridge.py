"""dream's Gymnasium bridge: one Gymnasium environment in a child process.

dream (github.com/dreamrl/dream, package envs/gym) embeds this file, writes
it to a temporary file and runs it with the chosen interpreter. It uses the
standard library, numpy and gymnasium only. It speaks protocol version 1
over its standard input (requests) and standard output (replies); both are
moved to file descriptors of their own at start, so that an environment
that prints, or a C library that writes to file descriptor 1, cannot
corrupt the stream. The protocol is documented in docs/gym.md:

  message   tag (1 byte), payload length (u32), payload; little-endian
  H  hello  JSON {"magic": "dream-gym", "protocol": 1, "python", "numpy"}
  M  make   JSON {"id", "kwargs", "frames", "vector"}  -> I or E
  I  info   JSON {"action", "observation", "max_episode_steps", "gymnasium"}
  R  reset  u64 seed                                  -> O or E
  S  step   f64 × action dimension                    -> O or E
  F  frame  (empty)                                   -> P or E
  Q  quit   (empty)                                   -> the bridge exits
  O  obs    f64 reward, u8 flags (1 terminated, 2 truncated), u64 ns spent
            in the environment, u32 n, f64 × n observation, then a frame
  P  frame  u16 height, u16 width, height·width·3 bytes of RGB (a frame
            with height 0 is no frame)
  E  error  JSON {"kind", "type", "message"}; the bridge exits after it

The bridge ignores SIGINT and SIGTERM, which a terminal or a batch
scheduler sends to a whole process group: dream handles them, writes its
checkpoint and closes the pipe, and the bridge exits when its input ends.
"""

import json
import math
import os
import platform
import signal
import struct
import sys
import time

PROTOCOL = 1
MAGIC = "dream-gym"

# The protocol's file descriptors (set by main), for diagnostics and tests
# that must reach the stream itself.
PROTOCOL_IN = -1
PROTOCOL_OUT = -1

HEAD = struct.Struct("<BI")
OBS_HEAD = struct.Struct("<dBQI")
FRAME_HEAD = struct.Struct("<HH")

# gymnasium.error classes that mean the ID is not registered.
UNKNOWN_ID = {"NameNotFound", "NamespaceNotFound", "VersionNotFound", "UnregisteredEnv", "DeprecatedEnv"}


class Stop(Exception):
    """Ends the bridge after an error reply."""


def write_all(fd, data):
    n = os.write(fd, data)
    if n < len(data):
        view = memoryview(data)[n:]
        while view:
            view = view[os.write(fd, view):]


def send(tag, payload=b""):
    head = HEAD.pack(ord(tag), len(payload))
    if len(payload) < 1 << 16:
        write_all(PROTOCOL_OUT, head + payload)
    else:
        write_all(PROTOCOL_OUT, head)
        write_all(PROTOCOL_OUT, payload)


def send_json(tag, obj):
    send(tag, json.dumps(obj, allow_nan=False).encode())


def fail(kind, message, exc_type=""):
    """Sends an error reply and stops the bridge."""
    send_json("E", {"kind": kind, "type": exc_type, "message": message})
    raise Stop()


def number(x):
    """A float for JSON, with the non-finite ones as strings."""
    x = float(x)
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


class Bridge:
    def __init__(self, np, reader):
        self.np = np
        self.reader = reader
        self.env = None
        self.frames = False
        self.vector = False
        self.action = None
        self.obs_kind = None
        self.obs_size = 0
        self.obs_start = 0

    def recv(self):
        head = self.reader.read(HEAD.size)
        if not head:
            return None, b""
        if len(head) < HEAD.size:
            raise EOFError("the request stream ended inside a message")
        tag, n = HEAD.unpack(head)
        payload = self.reader.read(n) if n else b""
        if len(payload) < n:
            raise EOFError("the request stream ended inside a message")
        return chr(tag), payload

    def describe(self, space, bounds):
        from gymnasium import spaces

        np = self.np
        if isinstance(space, spaces.Discrete):
            return {"type": "Discrete", "n": int(space.n), "start": int(getattr(space, "start", 0))}
        if isinstance(space, spaces.Box):
            d = {"type": "Box", "shape": [int(s) for s in space.shape], "dtype": str(space.dtype)}
            if bounds:
                d["low"] = [number(x) for x in np.asarray(space.low, dtype=np.float64).ravel()]
                d["high"] = [number(x) for x in np.asarray(space.high, dtype=np.float64).ravel()]
            return d
        return {"type": type(space).__name__, "repr": repr(space)}

    def make(self, payload):
        req = json.loads(payload)
        try:
            import gymnasium
        except ImportError as e:
            fail("module", "no module gymnasium (%s)" % e, type(e).__name__)
        self.frames = bool(req.get("frames"))
        self.vector = bool(req.get("vector"))
        kwargs = dict(req.get("kwargs") or {})
        kwargs.setdefault("render_mode", "rgb_array")
        try:
            env = gymnasium.make(req["id"], **kwargs)
        except Exception as e:
            names = {c.__name__ for c in type(e).__mro__}
            fail("unknown_id" if names & UNKNOWN_ID else "make", str(e), type(e).__name__)
        self.env = env
        mode = getattr(env, "render_mode", None)
        if self.frames and mode != "rgb_array":
            fail("frame", "its render_mode is %r, not 'rgb_array': it renders no frames" % (mode,))
        action = self.describe(env.action_space, True)
        obs = self.describe(env.observation_space, self.vector)
        self.action = action
        self.obs_kind = obs["type"]
        if obs["type"] == "Discrete":
            self.obs_size, self.obs_start = 1, obs["start"]
        elif obs["type"] == "Box":
            self.obs_size = int(self.np.prod(obs["shape"], dtype=self.np.int64))
        if action["type"] == "Box":
            self.action_shape = tuple(action["shape"])
            self.action_size = int(self.np.prod(self.action_shape, dtype=self.np.int64))
            self.action_dtype = self.np.dtype(action["dtype"])
            self.action_round = self.np.issubdtype(self.action_dtype, self.np.integer)
        spec = getattr(env, "spec", None)
        steps = getattr(spec, "max_episode_steps", None) if spec is not None else None
        send_json("I", {"action": action, "observation": obs, "max_episode_steps": steps,
                        "gymnasium": getattr(gymnasium, "__version__", "")})

    def to_action(self, payload):
        np = self.np
        a = np.frombuffer(payload, dtype="<f8")
        if self.action["type"] == "Discrete":
            if len(a) != 1:
                fail("protocol", "a discrete action of %d numbers" % len(a))
            return int(a[0]) + self.action["start"]
        if a.size != self.action_size:
            fail("protocol", "an action of %d numbers for a Box of shape %s" % (a.size, self.action_shape))
        if self.action_round:
            a = np.rint(a)
        return a.astype(self.action_dtype).reshape(self.action_shape)

    def observation(self, obs):
        np = self.np
        if not self.vector:
            return b"", 0
        if self.obs_kind == "Discrete":
            v = np.array([int(obs) - self.obs_start], dtype="<f8")
        else:
            v = np.asarray(obs, dtype="<f8").ravel()
            if v.size != self.obs_size:
                fail("observation", "an observation of %d numbers where the observation space has %d" % (v.size, self.obs_size))
        return v.tobytes(), v.size

    def frame(self):
        np = self.np
        f = self.env.render()
        if type(f) is not np.ndarray or f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            f = self.rgb(f)
        if f.shape[0] > 65535 or f.shape[1] > 65535:
            fail("frame", "render() returned a frame of %d×%d (allowed: at most 65535×65535)" % f.shape[:2])
        return FRAME_HEAD.pack(f.shape[0], f.shape[1]) + f.tobytes()

    def rgb(self, f):
        """Converts what render() returned to height × width × 3 uint8."""
        np = self.np
        if f is None:
            fail("frame", "render() returned None: the environment has no rgb_array render mode")
        f = np.asarray(f)
        if f.dtype != np.uint8:
            fail("frame", "render() returned an array of %s (allowed: uint8 RGB)" % f.dtype)
        if f.ndim == 2:
            f = np.stack([f, f, f], axis=-1)
        if f.ndim != 3 or f.shape[2] not in (3, 4):
            fail("frame", "render() returned an array of shape %s (allowed: height × width × 3)" % (f.shape,))
        return f[:, :, :3]

    def reply(self, obs, reward, terminated, truncated, ns, frame):
        vec, n = self.observation(obs)
        flags = (1 if terminated else 0) | (2 if truncated else 0)
        send("O", OBS_HEAD.pack(float(reward), flags, ns, n) + vec + frame)

    def raised(self, what, e):
        import traceback

        traceback.print_exc(file=sys.stderr)
        fail("env", "%s raised %s: %s" % (what, type(e).__name__, e), type(e).__name__)

    def render(self):
        try:
            return self.frame()
        except Stop:
            raise
        except Exception as e:
            self.raised("render", e)

    def serve(self):
        no_frame = FRAME_HEAD.pack(0, 0)
        clock = time.perf_counter_ns
        while True:
            tag, payload = self.recv()
            if tag == "S" and self.env is not None:
                action = self.to_action(payload)
                t0 = clock()
                try:
                    obs, reward, terminated, truncated, _ = self.env.step(action)
                except Exception as e:
                    self.raised("step", e)
                frame = self.render() if self.frames else no_frame
                ns = clock() - t0
                self.reply(obs, reward, terminated, truncated, ns, frame)
            elif tag == "R" and self.env is not None and len(payload) == 8:
                (seed,) = struct.unpack("<Q", payload)
                t0 = clock()
                try:
                    obs, _ = self.env.reset(seed=seed)
                except Exception as e:
                    self.raised("reset", e)
                frame = self.render() if self.frames else no_frame
                ns = clock() - t0
                self.reply(obs, 0.0, False, False, ns, frame)
            elif tag == "F" and self.env is not None:
                send("P", self.render())
            elif tag == "M" and self.env is None:
                self.make(payload)
            elif tag is None or tag == "Q":
                if self.env is not None:
                    try:
                        self.env.close()
                    except Exception:
                        pass
                return
            else:
                fail("protocol", "unexpected request %r of %d bytes" % (tag, len(payload)))


def main():
    global PROTOCOL_IN, PROTOCOL_OUT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    PROTOCOL_IN, PROTOCOL_OUT = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    reader = os.fdopen(PROTOCOL_IN, "rb", buffering=1 << 16)
    try:
        try:
            import numpy as np
        except ImportError as e:
            fail("module", "no module numpy (%s)" % e, type(e).__name__)
        send_json("H", {"magic": MAGIC, "protocol": PROTOCOL, "python": platform.python_version(), "numpy": np.__version__})
        Bridge(np, reader).serve()
    except Stop:
        return 1
    except (BrokenPipeError, EOFError):
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
