"""The training loop (`loop`), length-bucketed batches (`batching`) and data-parallel training (`distributed`)."""
