"""An export-only view of a bidirectional `SentimentNet`: each layer's two directions as one ONNX LSTM/GRU op.

    exportable = FusedNetwork(net)  # same logits as net(ids, lengths); torch.onnx.export emits one RNN op per layer

`SentimentNet` reads each text backwards within its own length by gathering (reversal index), running the
backward RNN, and gathering back. ONNX's bidirectional LSTM/GRU with `sequence_lens` has exactly that meaning
(its reverse direction starts at each text's last real step), so the export uses it: one op per layer with
no GatherElements/Expand around it. In ONNX Runtime int8 that ran the IMDB BiLSTM-128 ~10% faster
(bench/serving_throughput.py). Steps past a text's length come out as zeros instead of PyTorch's values
there; no real step and no pooling ever reads them (pooling masks padding), which the export check verifies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sentilstm.network.model import SentimentNet, length_mask, reversal_index, reverse_within_length

# torch stores gates as LSTM (input, forget, cell, output) and GRU (reset, update, new);
# ONNX wants LSTM (input, output, forget, cell) and GRU (update, reset, hidden)
GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}
INT32 = 6  # onnx.TensorProto.INT32, the type ONNX's sequence_lens needs


def _onnx_weights(rnn: nn.Module, cell: str) -> tuple[Tensor, Tensor, Tensor]:
    """(W, R, B) of a one-layer torch RNN in ONNX gate order.

    Shapes: (gates*hidden, input), (gates*hidden, hidden), (2*gates*hidden,)."""
    order = GATE_ORDER[cell]

    def reorder(t: Tensor) -> Tensor:
        parts = t.detach().chunk(len(order))
        return torch.cat([parts[i] for i in order])

    return (
        reorder(rnn.get_parameter("weight_ih_l0")),
        reorder(rnn.get_parameter("weight_hh_l0")),
        torch.cat([reorder(rnn.get_parameter("bias_ih_l0")), reorder(rnn.get_parameter("bias_hh_l0"))]),
    )


def _run(cell: str, x: Tensor, params: Sequence[Tensor], hidden: int) -> Tensor:
    """One direction of one layer from its four tensors (weight_ih, weight_hh, bias_ih, bias_hh); batch-first."""
    h0 = x.new_zeros(1, x.shape[0], hidden)
    if cell == "lstm":
        return torch._VF.lstm(x, (h0, h0), list(params), True, 1, 0.0, False, False, True)[0]
    return torch._VF.gru(x, h0, list(params), True, 1, 0.0, False, False, True)[0]


def _bidirectional_function(cell: str, hidden: int) -> type[torch.autograd.Function]:
    """An autograd Function computing both directions as SentimentNet does, exported as one ONNX op."""

    class Bidirectional(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: Tensor, lengths: Tensor, w: Tensor, r: Tensor, b: Tensor, *params: Tensor) -> Tensor:
            index = reversal_index(lengths, x.shape[1])
            forward = _run(cell, x, params[:4], hidden)  # (batch, seq_len, hidden)
            backward = _run(cell, reverse_within_length(x, index), params[4:], hidden)
            return torch.cat([forward, reverse_within_length(backward, index)], dim=-1)  # (batch, seq_len, 2*hidden)

        @staticmethod
        def symbolic(g, x, lengths, w, r, b, *params):
            steps = g.op("Transpose", x, perm_i=[1, 0, 2])  # (seq_len, batch, features)
            attributes = {"direction_s": "bidirectional", "hidden_size_i": hidden}
            if cell == "gru":
                attributes["linear_before_reset_i"] = 1  # torch applies the reset gate after the recurrent matmul
            y = g.op(cell.upper(), steps, w, r, b, g.op("Cast", lengths, to_i=INT32), outputs=1, **attributes)
            y = g.op("Transpose", y, perm_i=[2, 0, 1, 3])  # (seq_len, 2, batch, hidden) -> (batch, seq_len, 2, hidden)
            return g.op("Reshape", y, g.op("Constant", value_t=torch.tensor([0, 0, -1])))  # (batch, seq_len, 2*hidden)

    return Bidirectional


class FusedNetwork(nn.Module):
    """(ids, lengths) -> logits of a bidirectional SentimentNet, with each layer's directions as one ONNX op.

    Mirrors `SentimentNet._encode` in eval mode (dropout is the identity there); the export check compares
    its ONNX graph with the real network's forward on every export.
    """

    def __init__(self, net: SentimentNet) -> None:
        super().__init__()
        if net.backward_rnns is None:
            raise ValueError("FusedNetwork is for bidirectional networks; export a unidirectional one as it is")
        self.net = net
        self.cell = net.config.cell
        for layer, (forward_rnn, backward_rnn) in enumerate(zip(net.forward_rnns, net.backward_rnns)):
            # buffers, so the exporter stores them as initializers (ORT's quantizer only quantizes those)
            for name, forward_part, backward_part in zip(
                "wrb", _onnx_weights(forward_rnn, self.cell), _onnx_weights(backward_rnn, self.cell)
            ):
                self.register_buffer(f"{name}{layer}", torch.stack([forward_part, backward_part]))
        self.function = _bidirectional_function(self.cell, net.config.hidden_size)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        net = self.net
        x = net.embed(ids)  # (batch, seq_len, embedding_dim)
        mask = length_mask(lengths, ids.shape[1])
        if net.conv is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
            x = torch.relu(net.conv(x.transpose(1, 2))).transpose(1, 2)  # (batch, seq_len, conv_channels)
        assert net.backward_rnns is not None  # checked in __init__
        for layer, (forward_rnn, backward_rnn) in enumerate(zip(net.forward_rnns, net.backward_rnns)):
            w, r, b = (getattr(self, f"{name}{layer}") for name in "wrb")
            x = self.function.apply(x, lengths, w, r, b, *forward_rnn.parameters(), *backward_rnn.parameters())
        return net.classify(net.pool(x, mask, lengths)[0])
