"""The one-file format of models and checkpoints (`format`) and what such a file may hold (`schema`)."""
