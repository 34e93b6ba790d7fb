"""The neural network, tensors in and logits out: `model.py` (SentimentNet and its sequence helpers) and
`pooling.py` (the registry of poolings, one class each).

    from sentilstm.network.model import SentimentNet

This file imports neither module: `sentilstm.config` reads the pooling names from `pooling.py`, which `model.py`
builds on, so importing the package must not pull in the model (and, through it, the config) first.
"""
