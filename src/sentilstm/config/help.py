"""One line of help per user-settable field of the three configs (ModelConfig's derived fields have none): what
`sentilstm train --help` and `--set`'s help show. For a `Literal` field the help ends with ":" and its values follow.
"""

from __future__ import annotations

FIELD_HELP: dict[str, str] = {
    "lowercase": "Lowercase every text (sentiment rarely hinges on case; halves the vocabulary).",
    "unicode_form": "Unicode normalisation, NFC or NFKC (None: none); tone marks arrive composed or not.",
    "repair_cp1252": "Repair Windows-1252 characters read as Latin-1 (U+0080-U+009F, as in IMDB).",
    "strip_html": "Remove HTML tags and decode entities (<br /> in IMDB, &amp; in tweets).",
    "replace_urls": "Replace every URL by xxurl (a link's presence is signal, its address noise).",
    "replace_mentions": "Replace every @handle by xxuser.",
    "stopwords": "'english' removes stop words (negations are kept).",
    "stemmer": "Snowball stemmer language, e.g. 'english'.",
    "tokenizer": "Tokens (subwords suit Igbo, typos, code-mixing):",
    "vocab_size": "Vocabulary cap (default 30000 words / 8000 subwords).",
    "min_frequency": "Rarer tokens become [UNK].",
    "max_length": "Max tokens per text (default: 95th percentile).",
    "truncation": "Which tokens a text longer than max_length keeps:",
    "char_ngrams": "MIN-MAX characters, e.g. 2-5: add hashed character n-gram vectors to each token's (fastText), "
    "so unseen and misspelt words get one.",
    "ngram_buckets": "Rows the character n-grams are hashed into (with --char-ngrams).",
    "embedding_dim": "Embedding size.",
    "cell": "Recurrent cell (GRU is ~25% cheaper):",
    "hidden_size": "RNN hidden size per direction.",
    "num_layers": "Stacked RNN layers.",
    "bidirectional": "Read texts both ways.",
    "dropout": "Dropout on embeddings, between layers and before the head.",
    "embedding_dropout": "Drop whole words from each batch (AWD-LSTM: 0.1).",
    "output_dropout": "Dropout on the RNN's output states before pooling.",
    "weight_drop": "DropConnect on the RNN's hidden-to-hidden weights (AWD-LSTM).",
    "conv_channels": "Channels of an optional Conv1D front (0: none).",
    "conv_kernel_size": "Width of the Conv1D front's kernel, odd so outputs stay aligned with tokens.",
    "pooling": "How the RNN's states become one vector per text:",
    "epochs": "Maximum epochs (early stopping usually ends sooner).",
    "batch_size": "Texts per optimiser step.",
    "learning_rate": "Peak AdamW learning rate.",
    "weight_decay": "AdamW weight decay.",
    "head_l2": "L2 penalty on the output layer's weights, added to the loss (on top of AdamW's weight decay).",
    "max_grad_norm": "Clip gradients to this norm (tames the exploding gradients of recurrent nets).",
    "schedule": "Learning-rate schedule (linear: warm-up + decay):",
    "warmup_fraction": "Share of all optimiser steps spent warming up the learning rate.",
    "patience": "Epochs without improvement before stopping.",
    "monitor": "Validation metric for early stopping:",
    "class_weight": "'balanced' weighs the loss by inverse class frequency.",
    "loss": "Training loss (focal down-weights easy examples; for skewed classes):",
    "focal_gamma": "Focal loss strength (0 = cross-entropy).",
    "sampling": "Class rebalancing (over/undersampling per epoch, balanced batches, or smote: synthetic minority "
    "examples in the hidden space):",
    "validation_fraction": "Share of the training data held out (stratified) for early stopping when no validation "
    "set is given.",
    "seed": "Random seed for split, initialisation and batch order.",
    "precision": "Arithmetic (bf16 is faster on AVX512-BF16 CPUs and GPUs):",
    "device": "auto (CUDA when available), cpu, cuda or cuda:N.",
    "num_threads": (
        "Torch CPU threads (default: the usable CPUs other processes leave free, re-measured while training)."
    ),
    "bucket_pool": "Batches per sorting pool: texts of similar length share a batch.",
    "distill": "Distil a teacher into the network: 'blend' (this run's blend; the network is then served alone), "
    "a .sentilstm file or hf:MODEL_NAME.",
    "distill_temperature": "Distillation temperature (softens teacher and student alike).",
    "distill_weight": "Share of the loss from the teacher's soft targets (the labels have the rest).",
    "pretrain": "Pretrain the embeddings and the first recurrent layer on the training and unlabelled texts first, as "
    "forward and backward language models:",
    "pretrain_epochs": "Passes of the language model over the training and unlabelled texts.",
    "pretrain_learning_rate": "Peak learning rate of the language model.",
    "pretrain_predict_share": "Share of the next/previous-token predictions the language model's softmax scores "
    "in a training step (a random subset per batch; lower is faster).",
    "adversarial": "Also train on each batch's embeddings pushed against its labels (at) or where its prediction moves "
    "most (vat):",
    "adversarial_epsilon": "Size of the adversarial push, as a share of each text's embedding norm.",
    "adversarial_iterations": "Power iterations of VAT's search for the most sensitive direction.",
    "freeze_encoder": "Epochs the pretrained encoder (embeddings and first recurrent layer) stays frozen while the "
    "layers above it learn.",
    "encoder_lr_scale": "Learning rate of the encoder (embeddings and first recurrent layer) as a share of the "
    "rate of the layers above it (1: one rate).",
    "ensemble": "Networks to train (seeds SEED, SEED+1, ...) and average, saved in one file; with --distill blend "
    "they teach one network that is served alone.",
    "freeze_embeddings": "Epochs to keep the embedding layer frozen (-1: always, 0: fine-tune from the start).",
    "blend_strategy": (
        "How the blend's partner and weight are chosen: crossfit (out-of-fold over train + validation, partner "
        "refitted on both) or holdout (fitted on train, weighted on validation):"
    ),
    "blend_folds": "Folds of the crossfit blend's out-of-fold predictions.",
}
