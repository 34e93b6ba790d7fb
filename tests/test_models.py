"""sentilstm.network: shapes, padding invariance for every architecture, per-length reversal, attention."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from sentilstm.config import ModelConfig
from sentilstm.errors import ConfigError
from sentilstm.network.model import SentimentNet, length_mask, reversal_index, reverse_within_length
from sentilstm.network.pooling import POOLINGS

VOCAB = 50
ARCHITECTURES = list(itertools.product(["lstm", "gru"], [False, True], list(POOLINGS), [0, 8], [1, 2]))


def make_net(**overrides: object) -> SentimentNet:
    torch.manual_seed(0)
    config = ModelConfig(embedding_rows=VOCAB, num_classes=3, embedding_dim=12, hidden_size=10, **overrides)
    return SentimentNet(config).eval()


def pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids, lengths


def random_rows(lengths: list[int], seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, VOCAB, (n,), generator=g).tolist() for n in lengths]


# ----- shapes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", list(POOLINGS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_shape(pooling: str, bidirectional: bool) -> None:
    net = make_net(pooling=pooling, bidirectional=bidirectional)
    ids, lengths = pad(random_rows([3, 7, 1, 5]))
    logits = net(ids, lengths)
    assert logits.shape == (4, 3) and logits.dtype == torch.float32
    assert net.output_size == 10 * (2 if bidirectional else 1)
    assert net.embed(ids).shape == (4, 7, 12)


def test_padding_embedding_is_zero() -> None:
    net = make_net()
    assert torch.count_nonzero(net.embedding.weight[0]) == 0


# ----- padding invariance ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell, bidirectional, pooling, conv_channels, num_layers", ARCHITECTURES)
def test_padding_never_changes_a_prediction(
    cell: str, bidirectional: bool, pooling: str, conv_channels: int, num_layers: int
) -> None:
    net = make_net(
        cell=cell, bidirectional=bidirectional, pooling=pooling, conv_channels=conv_channels, num_layers=num_layers
    )
    rows = random_rows([4, 1, 17, 9, 30])
    with torch.no_grad():
        together = torch.softmax(net(*pad(rows)), dim=-1)
        alone = torch.cat([torch.softmax(net(*pad([row])), dim=-1) for row in rows])
        # extra padding beyond the longest text must not matter either
        ids, lengths = pad(rows)
        wider = torch.softmax(net(torch.nn.functional.pad(ids, (0, 11)), lengths), dim=-1)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(wider, alone, atol=1e-5, rtol=0)


def test_padding_token_values_are_ignored() -> None:
    """Whatever sits in the padded positions (not only id 0) is masked away."""
    net = make_net(pooling="concat", conv_channels=8, num_layers=2)
    ids, lengths = pad(random_rows([3, 10]))
    noisy = ids.clone()
    noisy[0, 3:] = 7
    with torch.no_grad():
        torch.testing.assert_close(net(noisy, lengths), net(ids, lengths), atol=1e-5, rtol=0)


def test_backward_direction_matches_a_reference_rnn_on_the_unpadded_text() -> None:
    """With pooling='last' the backward half is the backward RNN's final state after reading the
    text right-to-left from its last real token; compute it with plain nn.LSTM and compare."""
    net = make_net(pooling="last", bidirectional=True, dropout=0.0)
    rows = random_rows([6, 2, 11])
    with torch.no_grad():
        logits = net(*pad(rows))
        expected = []
        for row in rows:
            x = net.embed(torch.tensor([row]))  # (1, n, embedding_dim)
            forward_last = net.forward_rnns[0](x)[0][:, -1]
            backward_last = net.backward_rnns[0](x.flip(1))[0][:, -1]
            expected.append(net.head(torch.cat([forward_last, backward_last], dim=-1)))
    torch.testing.assert_close(logits, torch.cat(expected), atol=1e-5, rtol=0)


def test_unpacked_bidirectional_lstm_would_depend_on_padding() -> None:
    """Why the per-length reversal exists: nn.LSTM(bidirectional=True) reads padding first."""
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    x = torch.randn(1, 5, 4)
    padded = torch.cat([x, torch.zeros(1, 6, 4)], dim=1)
    with torch.no_grad():
        assert not torch.allclose(lstm(x)[0][:, 0, 3:], lstm(padded)[0][:, 0, 3:], atol=1e-4)


# ----- reversal --------------------------------------------------------------------------------------
def test_reversal_index_reverses_within_length_and_keeps_padding() -> None:
    index = reversal_index(torch.tensor([3, 5, 1]), 5)
    assert index.tolist() == [[2, 1, 0, 3, 4], [4, 3, 2, 1, 0], [0, 1, 2, 3, 4]]


def test_length_mask() -> None:
    assert length_mask(torch.tensor([2, 0, 3]), 3).tolist() == [
        [True, True, False],
        [False, False, False],
        [True, True, True],
    ]


def test_reverse_within_length_is_its_own_inverse() -> None:
    lengths = torch.tensor([4, 1, 7, 7, 2])
    index = reversal_index(lengths, 7)
    x = torch.randn(5, 7, 3)
    once = reverse_within_length(x, index)
    assert torch.equal(reverse_within_length(once, index), x)
    assert torch.equal(once[0, :4], x[0, :4].flip(0)) and torch.equal(once[0, 4:], x[0, 4:])


def test_reverse_within_length_gradcheck() -> None:
    index = reversal_index(torch.tensor([3, 5, 1]), 5)
    x = torch.randn(3, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: reverse_within_length(t, index), (x,))


def test_reverse_within_length_gradient_matches_plain_gather() -> None:
    index = reversal_index(torch.tensor([6, 2, 4]), 6)
    x = torch.randn(3, 6, 4, requires_grad=True)
    weights = torch.randn(3, 6, 4)
    (reverse_within_length(x, index) * weights).sum().backward()
    custom = x.grad.clone()
    x.grad = None
    (x.gather(1, index[:, :, None].expand_as(x)) * weights).sum().backward()
    assert torch.equal(custom, x.grad)


def test_reverse_within_length_without_grad_is_a_gather() -> None:
    index = reversal_index(torch.tensor([2, 3]), 3)
    x = torch.randn(2, 3, 2)
    with torch.no_grad():
        assert torch.equal(reverse_within_length(x, index), x.gather(1, index[:, :, None].expand_as(x)))


# ----- attention -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bidirectional", [False, True])
def test_attention_weights_sum_to_one_and_skip_padding(bidirectional: bool) -> None:
    net = make_net(pooling="attention", bidirectional=bidirectional)
    ids, lengths = pad(random_rows([5, 1, 9]))
    with torch.no_grad():
        weights = net.attention_weights(ids, lengths)
    assert weights.shape == (3, 9)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~length_mask(lengths, 9)] == 0)
    assert torch.all(weights[length_mask(lengths, 9)] > 0)
    assert weights[1, 0] == 1.0


def test_attention_weights_are_padding_invariant() -> None:
    net = make_net(pooling="attention")
    rows = random_rows([4, 12])
    with torch.no_grad():
        together = net.attention_weights(*pad(rows))[0, :4]
        alone = net.attention_weights(*pad(rows[:1]))[0]
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "concat"])
def test_attention_weights_need_attention_pooling(pooling: str) -> None:
    net = make_net(pooling=pooling)
    with pytest.raises(ValueError, match=f"pooling='attention'.*{pooling}"):
        net.attention_weights(*pad([[2, 3]]))


# ----- embeddings entry point and training mode -------------------------------------------------------
def test_forward_embedded_matches_forward_and_has_embedding_gradients() -> None:
    net = make_net()
    ids, lengths = pad(random_rows([3, 6]))
    embedded = net.embed(ids).detach().requires_grad_(True)
    logits = net.forward_embedded(embedded, lengths)
    torch.testing.assert_close(logits, net(ids, lengths))
    logits[:, 0].sum().backward()
    assert embedded.grad is not None and embedded.grad[0, :3].abs().sum() > 0
    assert torch.all(embedded.grad[0, 3:] == 0)  # padding gets no attribution


def test_training_mode_backward_updates_every_parameter() -> None:
    net = make_net(conv_channels=8, num_layers=2, pooling="concat").train()
    ids, lengths = pad(random_rows([3, 6, 2]))
    net(ids, lengths).sum().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert missing == []


# ----- regularisation knobs (AWD-LSTM) ---------------------------------------------------------------
REGULARISERS = [dict(embedding_dropout=0.5), dict(output_dropout=0.5), dict(weight_drop=0.5)]


@pytest.mark.parametrize("overrides", REGULARISERS)
def test_regularisers_act_in_training_only(overrides: dict) -> None:
    plain, regularised = make_net(dropout=0.0), make_net(dropout=0.0, **overrides)
    ids, lengths = pad(random_rows([5, 3, 7]))
    torch.testing.assert_close(regularised(ids, lengths), plain(ids, lengths))  # eval mode: identical nets
    plain.train(), regularised.train()
    torch.manual_seed(1)
    first = regularised(ids, lengths)
    torch.manual_seed(2)
    assert not torch.allclose(first, regularised(ids, lengths))  # a fresh mask per batch
    torch.manual_seed(1)
    assert not torch.allclose(first, plain(ids, lengths))


def test_weight_drop_leaves_the_stored_weights_alone_and_trains_them() -> None:
    net = make_net(weight_drop=0.5, bidirectional=True).train()
    before = net.forward_rnns[0].weight_hh_l0.detach().clone()
    ids, lengths = pad(random_rows([4, 6]))
    net(ids, lengths).sum().backward()
    torch.testing.assert_close(net.forward_rnns[0].weight_hh_l0.detach(), before)
    grad = net.forward_rnns[0].weight_hh_l0.grad
    assert grad is not None and 0.3 < float((grad == 0).float().mean()) < 0.7  # dropped entries get no gradient


def test_word_dropout_drops_whole_words_consistently_in_a_batch() -> None:
    net = make_net(embedding_dropout=0.5).train()
    ids = torch.tensor([[5, 5, 6, 7, 5], [6, 5, 7, 7, 6]])
    torch.manual_seed(3)
    with torch.no_grad():
        embedded, reference = net.embed(ids), net.embedding(ids)
    ratio = embedded / reference  # 0 where a word was dropped, 1 / (1 - p) = 2 elsewhere
    for word in (5, 6, 7):
        values = ratio[ids == word]
        assert torch.allclose(values, values[0, 0].expand_as(values))  # one decision per word
        assert float(values[0, 0]) in (0.0, 2.0)
    with torch.no_grad():
        assert net.eval().embed(ids).equal(reference)


@pytest.mark.parametrize("overrides", REGULARISERS)
def test_regularised_nets_stay_padding_invariant_in_eval(overrides: dict) -> None:
    net = make_net(**overrides, bidirectional=True)
    rows = random_rows([4, 2])
    short, long_ = pad(rows), pad(rows + [random_rows([9], seed=1)[0]])
    torch.testing.assert_close(net(*short), net(*long_)[:2], atol=1e-5, rtol=1e-5)


def test_represent_then_classify_is_forward() -> None:
    net = make_net(pooling="concat")
    ids, lengths = pad(random_rows([3, 5]))
    representation = net.represent(ids, lengths)
    assert representation.shape == (2, 3 * 20)  # concat of last, mean, max over 2 x hidden
    torch.testing.assert_close(net.classify(representation), net(ids, lengths))


# ----- config validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, bad",
    [
        (dict(cell="rnn"), "'rnn'"),
        (dict(pooling="foo"), "'foo'"),
        (dict(conv_kernel_size=4), "4"),
        (dict(conv_kernel_size=0), "0"),
        (dict(dropout=1.5), "1.5"),
        (dict(dropout=-0.1), "-0.1"),
        (dict(hidden_size=0), "hidden_size.*0"),
        (dict(num_layers=0), "num_layers.*0"),
        (dict(embedding_dim=-3), "embedding_dim.*-3"),
        (dict(conv_channels=-1), "conv_channels.*-1"),
        (dict(embedding_dropout=1.0), "embedding_dropout must be between 0.0 and 0.95, got 1.0"),
        (dict(output_dropout=-0.2), "output_dropout.*-0.2"),
        (dict(weight_drop=2), "weight_drop.*2"),
    ],
)
def test_model_config_validate_names_the_bad_value(overrides: dict, bad: str) -> None:
    config = ModelConfig(embedding_rows=VOCAB, **overrides)
    with pytest.raises(ConfigError, match=bad):
        config.validate()
    with pytest.raises(ConfigError):
        SentimentNet(config)


def test_model_config_error_lists_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"\['lstm', 'gru'\]"):
        ModelConfig(cell="transformer").validate()  # type: ignore[arg-type]
