"""The stand-in's exceptions, named as gymnasium.error names them."""


class Error(Exception):
    pass


class UnregisteredEnv(Error):
    pass


class NameNotFound(UnregisteredEnv):
    pass
