"""rnnlab: a lecture on recurrent neural networks, executable with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
