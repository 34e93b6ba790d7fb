"""The network: token ids and lengths in, logits out. No strings, no loss, no device choice.

    net = SentimentNet(ModelConfig(embedding_rows=1000, num_classes=3))
    logits = net(ids, lengths)  # ids (batch, seq_len) right-padded with 0; lengths (batch,)

With `ngram_rows` (character n-grams, TextConfig.char_ngrams), ids are (batch, seq_len, 1 + K): the word id, then
the token's n-gram rows (0 = none), and a token's vector is its word vector plus the sum of its n-gram vectors over
the square root of their number.

Padding never changes a prediction: every pooling masks padded steps, and the backward direction of a
bidirectional RNN reads each text reversed *within its own length*, so it starts at the last real token
rather than at the padding (an unpacked `nn.LSTM(bidirectional=True)` would start at the padding;
`pack_padded_sequence` avoids that but is ~8x slower on CPU, see ../shared/PERF_NOTES.md).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from sentilstm.config import ModelConfig
from sentilstm.network.pooling import POOLINGS, PoolingLayer


def length_mask(lengths: Tensor, seq_len: int) -> Tensor:
    """(batch, seq_len) bool mask, True on real tokens."""
    positions = torch.arange(seq_len, device=lengths.device)
    return positions[None, :] < lengths[:, None]


def reversal_index(lengths: Tensor, seq_len: int) -> Tensor:
    """(batch, seq_len) index that reverses each text's first `length` steps and keeps padding in place."""
    positions = torch.arange(seq_len, device=lengths.device).expand(lengths.shape[0], seq_len)
    return torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)


class _Permute(torch.autograd.Function):
    """gather along time by a self-inverse permutation; backward is the same gather.

    Autograd's generic gather backward is a scatter-add, which costs ~15% of a CPU training step here.
    """

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(index)
        return x.gather(1, index)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (index,) = ctx.saved_tensors
        return grad.gather(1, index), None


def reverse_within_length(x: Tensor, index: Tensor) -> Tensor:
    """Apply a `reversal_index` to x (batch, seq_len, features); applying it twice restores x."""
    index = index[:, :, None].expand_as(x)
    if torch.is_grad_enabled() and x.requires_grad and not torch.onnx.is_in_onnx_export():
        return _Permute.apply(x, index)
    return x.gather(1, index)


class LockedDropout(nn.Module):
    """Variational dropout for sequences: one mask per text, shared by every time step (Gal & Ghahramani 2016;
    AWD-LSTM). Also ~T times fewer random draws than element-wise dropout, which costs ~5% of a CPU step."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:  # x: (batch, seq_len, features)
        if not self.training or self.p == 0:
            return x
        mask = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype).bernoulli_(1 - self.p)
        return x * mask / (1 - self.p)


class SentimentNet(nn.Module):
    """Embedding -> [Conv1D] -> (Bi)LSTM/GRU stack -> pooling -> linear head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        if config.members != 1:
            raise ValueError(f"a SentimentNet is one network, config.members is {config.members}; use make_network")
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.embedding_rows, c.embedding_dim, padding_idx=c.padding_idx)
        self.ngram_embedding = (  # character n-grams (TextConfig.char_ngrams); row 0 pads a token's short list
            nn.Embedding(c.ngram_rows, c.embedding_dim, padding_idx=0) if c.ngram_rows else None
        )
        self.dropout = nn.Dropout(c.dropout)  # before the head
        self.sequence_dropout = LockedDropout(c.dropout)  # on embeddings and between RNN layers
        self.output_dropout = LockedDropout(c.output_dropout)  # on the last RNN layer's states, before pooling
        self.conv = (
            nn.Conv1d(c.embedding_dim, c.conv_channels, c.conv_kernel_size, padding=c.conv_kernel_size // 2)
            if c.conv_channels
            else None
        )
        rnn = getattr(nn, c.cell.upper())
        directions = 2 if c.bidirectional else 1
        sizes = [c.conv_channels or c.embedding_dim] + [c.hidden_size * directions] * (c.num_layers - 1)
        self.forward_rnns = nn.ModuleList(rnn(size, c.hidden_size, batch_first=True) for size in sizes)
        self.backward_rnns = (
            nn.ModuleList(rnn(size, c.hidden_size, batch_first=True) for size in sizes) if c.bidirectional else None
        )
        self.output_size = c.hidden_size * directions
        pooling = POOLINGS[c.pooling](c.hidden_size, directions)
        if hasattr(self, c.pooling) or c.pooling == "head":
            raise ValueError(f"a pooling cannot be named {c.pooling!r}: SentimentNet has an attribute of that name")
        # kept under its own name, so that a file's tensors say which pooling they belong to (attention.project.*)
        self.add_module(c.pooling, pooling)
        self.head = nn.Linear(pooling.width, c.num_classes)

    def embed(self, ids: Tensor) -> Tensor:
        """Token ids (batch, seq_len[, 1 + K]) -> embeddings (batch, seq_len, embedding_dim)."""
        words = ids[..., 0] if ids.dim() == 3 else ids
        embedded = self.embedding(words)
        p = self.config.embedding_dropout
        if self.training and p > 0:
            # word-level dropout (AWD-LSTM's dropoute): a dropped word loses its whole vector everywhere in the
            # batch, so the model cannot lean on any single word; one draw per vocabulary row is cheap
            keep = torch.empty(self.embedding.num_embeddings, 1, device=ids.device).bernoulli_(1 - p) / (1 - p)
            embedded = embedded * keep[words].to(embedded.dtype)
        if self.ngram_embedding is not None:
            if ids.dim() != 3:
                raise ValueError(
                    f"this network adds character n-grams: ids must be (batch, seq_len, 1 + K), got "
                    f"{tuple(ids.shape)}; encode texts with the model's own pipeline"
                )
            embedded = embedded + self._ngram_vector(ids[..., 1:]).to(embedded.dtype)
        return embedded

    def _ngram_vector(self, grams: Tensor) -> Tensor:
        """Each token's n-gram vectors summed and divided by the square root of their number (batch, seq_len,
        embedding_dim); zeros for a token without n-grams.

        sqrt rather than fastText's mean keeps the part's scale as a word's n-gram count changes (n unit-variance
        rows sum to variance n): with the mean, a 20-n-gram word's part was ~1/20 of the word vector's variance and
        the network learned little from it. On the ten AfriSenti dev splits (one seed) the network alone gained
        3.7 weighted F1 over word vectors only with the sqrt, 1.7 with the mean (bench/results/blend_dev_subwords*.md).
        """
        assert self.ngram_embedding is not None
        table = self.ngram_embedding.weight
        count = (grams > 0).sum(-1, keepdim=True).clamp(min=1).to(table.dtype)
        if not torch.onnx.is_in_onnx_export():  # one fused kernel that never materialises every n-gram's vector
            flat = nn.functional.embedding_bag(grams.reshape(-1, grams.shape[-1]), table, mode="sum", padding_idx=0)
            return flat.reshape(*grams.shape[:-1], -1) / count.sqrt()
        return nn.functional.embedding(grams, table).sum(-2) / count.sqrt()  # ONNX has no EmbeddingBag

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits (batch, num_classes) for right-padded ids (batch, seq_len) and lengths (batch,)."""
        return self.forward_embedded(self.embed(ids), lengths)

    def forward_embedded(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        """Logits from embeddings; the entry point for gradient attributions on the embeddings."""
        return self.classify(self.represent_embedded(embedded, lengths))

    def represent(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """The pooled text representation the head classifies: (batch, pooled_size)."""
        return self.represent_embedded(self.embed(ids), lengths)

    def represent_embedded(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        """The pooled representation from embeddings (batch, seq_len, embedding_dim)."""
        states, mask = self._encode(embedded, lengths)
        return self.pool(self.output_dropout(states), mask, lengths)[0]

    def language_model_states(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """The first recurrent layer's states, for language-model pretraining (sentilstm.training.language_model):
        the forward direction's (batch, seq_len, hidden), which at step t has read tokens 0..t, and the backward
        direction's (None when the network reads one way), which at step t has read tokens t..length-1."""
        if self.conv is not None:  # checked with the settings; a direct caller gets this
            raise ValueError(
                "a network with a convolution front looks at the next tokens: it cannot learn to predict them"
            )
        x = self.sequence_dropout(self.embed(ids))
        forward = self._run(self.forward_rnns[0], x)
        if self.backward_rnns is None:
            return forward, None
        reverse = reversal_index(lengths, x.shape[1])
        backward = self._run(self.backward_rnns[0], reverse_within_length(x, reverse))
        return forward, reverse_within_length(backward, reverse)

    def classify(self, representation: Tensor) -> Tensor:
        """Logits (batch, num_classes) from pooled representations."""
        return self.head(self.dropout(representation))

    def attention_weights(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Attention over tokens (batch, seq_len), rows sum to 1; only for a pooling that weighs tokens (attention)."""
        states, mask = self._encode(self.embed(ids), lengths)
        weights = self.pool(states, mask, lengths)[1]
        if weights is None:
            raise ValueError(f"attention weights need pooling='attention', this model uses {self.config.pooling!r}")
        return weights

    def pool(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """The last layer's states (batch, seq_len, output_size) pooled by the configured pooling: vectors
        (batch, width) and per-token weights (batch, seq_len) where the pooling has them, else None."""
        layer = self.get_submodule(self.config.pooling)
        assert isinstance(layer, PoolingLayer)  # added under that name in __init__
        return layer(states, mask, lengths)

    def _encode(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # Padded steps only ever follow the real ones (in both directions), so they cannot reach a real
        # step's state; only the conv front looks sideways, and it gets zeros there, as at a text's edge.
        seq_len = embedded.shape[1]
        mask = length_mask(lengths, seq_len)
        x = self.sequence_dropout(embedded)  # (batch, seq_len, embedding_dim)
        if self.conv is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
            x = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (batch, seq_len, conv_channels)
        reverse = reversal_index(lengths, seq_len) if self.backward_rnns is not None else None
        for layer, forward_rnn in enumerate(self.forward_rnns):
            if layer:
                x = self.sequence_dropout(x)
            out = self._run(forward_rnn, x)  # (batch, seq_len, hidden)
            if reverse is not None and self.backward_rnns is not None:  # both or neither (bidirectional)
                backward = self._run(self.backward_rnns[layer], reverse_within_length(x, reverse))
                out = torch.cat([out, reverse_within_length(backward, reverse)], dim=-1)  # (batch, seq_len, 2*hidden)
            x = out
        return x, mask

    def _run(self, rnn: nn.Module, x: Tensor) -> Tensor:
        p = self.config.weight_drop
        if not (self.training and p > 0):
            return rnn(x)[0]
        # DropConnect on the hidden-to-hidden weights (AWD-LSTM, Merity et al. 2018): one mask per batch on
        # W_hh regularises the recurrence itself while the fused oneDNN/cuDNN kernel still runs
        dropped = {n: nn.functional.dropout(w, p) for n, w in rnn.named_parameters() if n.startswith("weight_hh")}
        with warnings.catch_warnings():  # cuDNN warns that the substituted weights are not one flat buffer
            warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
            return torch.func.functional_call(rnn, dropped, (x,))[0]
