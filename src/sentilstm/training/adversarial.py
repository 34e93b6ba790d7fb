"""Adversarial and virtual adversarial training on the embeddings (`adversarial="at"|"vat"`; Goodfellow et al. 2015,
Miyato et al. 2017, "Adversarial training methods for semi-supervised text classification").

    extra = adversarial_loss(net, embedded, lengths, logits, targets, loss_fn, config)   # added to the batch's loss

AT perturbs each text's embeddings in the direction that raises its loss the most; VAT in the direction that moves
the network's predicted distribution the most (found by power iteration; it needs no label). Either way the network
is trained to answer the same under that worst small change. Perturbations touch real tokens only (padding keeps
zeros, so padding invariance holds) and are normalised per text: their L2 norm over the text's tokens is
`adversarial_epsilon` times the norm of the text's own embeddings, so a long review and a short tweet are pushed by
the same share, and a network cannot escape the perturbation by growing its embeddings.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from sentilstm.config import TrainConfig
from sentilstm.errors import ConfigError
from sentilstm.network.model import length_mask
from sentilstm.training.batching import bucketed_batches
from sentilstm.training.losses import LossFunction
from sentilstm.training.records import TrainableNetwork

# VAT's power-iteration probe, as a share of epsilon. Miyato et al. probe at 1e-6 in fp32; under bf16 autocast a
# change below ~0.4% of an embedding vanishes in rounding, so the probe is taken at half the perturbation's own size
XI_SHARE = 0.5


def per_text_unit(direction: Tensor, mask: Tensor) -> Tensor:
    """`direction` (batch, seq, dim) zeroed on padding and scaled to unit L2 norm per text."""
    direction = direction * mask
    norms = direction.flatten(1).norm(dim=1).clamp(min=1e-12)
    return direction / norms[:, None, None]


def _scaled(direction: Tensor, embedded: Tensor, mask: Tensor, share: float) -> Tensor:
    """A unit-per-text `direction` times `share` of each text's own embedding norm (padding excluded)."""
    scale = (embedded.detach() * mask).flatten(1).norm(dim=1)
    return direction * (share * scale)[:, None, None]


def kl_from_logits(reference: Tensor, logits: Tensor) -> Tensor:
    """Mean KL(softmax(reference) || softmax(logits)) over the batch; `reference` carries no gradient."""
    p = F.log_softmax(reference.detach().float(), dim=-1)
    return F.kl_div(F.log_softmax(logits.float(), dim=-1), p, log_target=True, reduction="batchmean")


def embedded_for_adversary(net: TrainableNetwork, ids: Tensor) -> Tensor:
    """The batch's embeddings, as a tensor the adversarial term can take gradients with respect to (also while the
    embedding layer is frozen); a network without `embed`/`forward_embedded` is refused."""
    if not (hasattr(net, "embed") and hasattr(net, "forward_embedded")):
        raise ConfigError(
            f"adversarial training needs a network with embed() and forward_embedded() (SentimentNet has them), "
            f"got {type(net).__name__}"
        )
    embedded = net.embed(ids)
    return embedded if embedded.requires_grad else embedded.detach().requires_grad_(True)


def adversarial_perturbation(
    net: TrainableNetwork,
    embedded: Tensor,
    lengths: Tensor,
    logits: Tensor,
    targets: Tensor | None,
    loss_fn: LossFunction | None,
    config: TrainConfig,
) -> Tensor:
    """The push r (batch, seq, dim), zero on padding: against the labels' loss (AT), or the direction power iteration
    finds the prediction most sensitive to (VAT); `embedded` is what produced `logits`."""
    mask = length_mask(lengths, embedded.shape[1])[..., None].to(embedded.dtype)
    if config.adversarial == "at":
        assert loss_fn is not None and targets is not None, "AT pushes against labels"
        (gradient,) = torch.autograd.grad(loss_fn(logits.float(), targets), embedded, retain_graph=True)
        return _scaled(per_text_unit(gradient.detach(), mask), embedded, mask, config.adversarial_epsilon)
    forward = net.forward_embedded  # type: ignore[attr-defined]
    d = per_text_unit(torch.randn_like(embedded), mask)
    for _ in range(config.adversarial_iterations):  # power iteration towards the most sensitive direction
        d = d.detach().requires_grad_(True)
        probe = embedded.detach() + _scaled(d, embedded, mask, XI_SHARE * config.adversarial_epsilon)
        (gradient,) = torch.autograd.grad(kl_from_logits(logits, forward(probe, lengths)), d)
        d = per_text_unit(gradient.detach(), mask)
    return _scaled(d, embedded, mask, config.adversarial_epsilon)


def adversarial_loss(
    net: TrainableNetwork,
    embedded: Tensor,
    lengths: Tensor,
    logits: Tensor,
    targets: Tensor | None,
    loss_fn: LossFunction | None,
    config: TrainConfig,
) -> Tensor:
    """The adversarial term of a batch: the labels' loss on the pushed embeddings (AT), or the divergence of the
    prediction there from the clean one (VAT)."""
    r = adversarial_perturbation(net, embedded, lengths, logits, targets, loss_fn, config)
    pushed = net.forward_embedded(embedded + r, lengths)  # type: ignore[attr-defined]
    if config.adversarial == "at":
        assert loss_fn is not None and targets is not None
        return loss_fn(pushed.float(), targets)
    return kl_from_logits(logits, pushed)


def unlabeled_batches(unlabeled: list[np.ndarray], steps: int, config: TrainConfig, epoch: int) -> list[np.ndarray]:
    """`steps` batches of unlabelled texts for epoch `epoch`, one beside each labelled batch: length-bucketed,
    reshuffled from (seed, epoch) alone (so a resumed run draws the same), cycled when there are fewer."""
    lengths = np.fromiter((len(x) for x in unlabeled), dtype=np.int64, count=len(unlabeled))
    rng = np.random.default_rng([config.seed, epoch, 1])
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        batches += bucketed_batches(lengths, config.batch_size, config.bucket_pool, rng)
    return batches[:steps]


def unlabeled_loss(net: TrainableNetwork, ids: Tensor, lengths: Tensor, config: TrainConfig) -> Tensor:
    """VAT's term on a batch of unlabelled texts: how far the most sensitive push moves the prediction from the
    network's own (the reference, which takes no gradient)."""
    embedded = embedded_for_adversary(net, ids)
    with torch.no_grad():
        reference = net.forward_embedded(embedded.detach(), lengths)  # type: ignore[attr-defined]
    return adversarial_loss(net, embedded, lengths, reference, None, None, config)


__all__ = [
    "XI_SHARE",
    "adversarial_loss",
    "adversarial_perturbation",
    "embedded_for_adversary",
    "kl_from_logits",
    "per_text_unit",
]
