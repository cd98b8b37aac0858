"""rnnlab's Hydra launcher plugin: ``hydra/launcher=local_parallel`` (see :mod:`.local_parallel`). Hydra finds
launchers only in the ``hydra_plugins`` namespace package."""
