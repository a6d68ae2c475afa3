"""The stand-in's spaces: Discrete and Box as Gymnasium defines them, and a
Dict that dream refuses."""

import numpy as np


class Space:
    pass


class Discrete(Space):
    def __init__(self, n, start=0):
        self.n = np.int64(n)
        self.start = np.int64(start)

    def __repr__(self):
        if self.start:
            return "Discrete(%d, start=%d)" % (self.n, self.start)
        return "Discrete(%d)" % self.n


class Box(Space):
    def __init__(self, low, high, shape=None, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if shape is None:
            shape = np.shape(low)
        self.shape = tuple(shape)
        self.low = np.full(self.shape, low, dtype=self.dtype) if np.isscalar(low) else np.asarray(low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype) if np.isscalar(high) else np.asarray(high, dtype=self.dtype)

    def __repr__(self):
        return "Box(%s, %s, %s, %s)" % (self.low.min(), self.high.max(), self.shape, self.dtype)


class Dict(Space):
    def __init__(self, spaces):
        self.spaces = dict(spaces)

    def __repr__(self):
        return "Dict(" + ", ".join("%r: %r" % kv for kv in self.spaces.items()) + ")"
