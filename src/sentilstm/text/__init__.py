"""Text processing: normalisation (`normalize`) and tokenization (`tokenizers`)."""
