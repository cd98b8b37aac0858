"""The performance suite behind ``scripts/bench.py``: each module times one question, interleaving the variants
it compares (A B A B …) so that machine noise hits all of them alike."""
