"""Configuration: the dataclasses saved inside a model file, each rebuilding its part
(`SentimentNet(ModelConfig(**saved))`, `TextPipeline(TextConfig(**saved))`), and the checks every setting passes.

    from sentilstm.config import ModelConfig, check_range
    ModelConfig(hidden_size=64).validate()  # ConfigError naming the field when a value is out of range

settings.py: TextConfig, ModelConfig, TrainConfig, their choices and bounds; extras.py: the facade's other
sections (EmbeddingConfig, AugmentConfig, BlendConfig); help.py: FIELD_HELP; checks.py: the checks.
"""

from __future__ import annotations

from sentilstm.config.checks import (
    Choices,
    allowed_values,
    check_choice,
    check_field_kinds,
    check_fields,
    check_integer,
    check_positive,
    check_range,
    check_type,
    described_values,
    from_dict,
)
from sentilstm.config.extras import (
    EXTRA_CONFIGS,
    AugmentConfig,
    Blend,
    BlendConfig,
    BlendStrategy,
    EmbeddingConfig,
    PretrainChoice,
    PretrainKind,
    SynonymKind,
)
from sentilstm.config.help import FIELD_HELP
from sentilstm.config.settings import (
    DERIVED_MODEL_FIELDS,
    MAX_AUGMENT_COPIES,
    MAX_KERNEL,
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SEED,
    MAX_THREADS,
    MAX_VOCABULARY,
    MAX_WIDTH,
    POOLING_NAMES,
    Adversarial,
    Cell,
    Loss,
    ModelConfig,
    Monitor,
    Pooling,
    Precision,
    PretrainEncoder,
    Sampling,
    Schedule,
    TextConfig,
    TokenizerKind,
    TrainConfig,
    Truncation,
)

__all__ = [
    "DERIVED_MODEL_FIELDS",
    "EXTRA_CONFIGS",
    "FIELD_HELP",
    "MAX_AUGMENT_COPIES",
    "MAX_KERNEL",
    "MAX_LAYERS",
    "MAX_LENGTH",
    "MAX_SEED",
    "MAX_THREADS",
    "MAX_VOCABULARY",
    "MAX_WIDTH",
    "AugmentConfig",
    "Blend",
    "BlendConfig",
    "BlendStrategy",
    "Cell",
    "EmbeddingConfig",
    "Loss",
    "ModelConfig",
    "Monitor",
    "POOLING_NAMES",
    "Pooling",
    "Precision",
    "PretrainChoice",
    "PretrainKind",
    "Adversarial",
    "PretrainEncoder",
    "Sampling",
    "Schedule",
    "SynonymKind",
    "TextConfig",
    "TokenizerKind",
    "TrainConfig",
    "Truncation",
    "Choices",
    "allowed_values",
    "check_choice",
    "check_field_kinds",
    "check_fields",
    "check_integer",
    "check_positive",
    "check_range",
    "check_type",
    "described_values",
    "from_dict",
]
