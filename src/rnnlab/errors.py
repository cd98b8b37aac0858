"""Errors a user can act on. The scripts print their message as one line and exit with code 2."""


class RnnlabError(Exception):
    """Base of the errors whose message alone tells the user what to do."""


class ConfigError(RnnlabError, ValueError):
    """A configuration a user can fix: the message says what, where, and how."""


class TrainingDiverged(RnnlabError, RuntimeError):
    """The loss or the gradients became NaN or infinite; the message says where and what to try."""


class DataError(RnnlabError, ValueError):
    """A data file that cannot be used: the message names the file (and line) and what is wrong."""
