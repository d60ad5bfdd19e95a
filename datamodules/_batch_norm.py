"""Whether a model normalizes over the batch (batch norm in training mode), which a one-sample batch cannot feed.

A model may say so itself with a public boolean attribute `normalizes_over_batch`; otherwise its modules
are scanned for torch's batch-norm layers and refzoo's own (layers.BatchNorm1d/2d).
"""
from __future__ import annotations

from torch import nn

_TORCH_BATCH_NORMS: tuple[type, ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
                                        nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d)


def _batch_norm_classes() -> tuple[type, ...]:
    try:
        import layers  # refzoo's hand-written layers, when the package is there
    except ImportError:
        return _TORCH_BATCH_NORMS
    own = tuple(getattr(layers, name) for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d") if hasattr(layers, name))
    return _TORCH_BATCH_NORMS + own


def normalizes_over_batch(model: nn.Module | None) -> bool:
    if model is None:
        return False
    said = getattr(model, "normalizes_over_batch", None)
    if isinstance(said, bool):
        return said
    classes = _batch_norm_classes()
    return any(isinstance(m, classes) for m in model.modules())


def one_sample_batch_error(model: nn.Module) -> str:
    """The one line that refuses data.batch_size=1 for a model that normalizes over the batch."""
    return (f"data.batch_size=1: {type(model).__name__} normalizes over the batch (batch norm), which needs at "
            f"least 2 samples per batch; use data.batch_size>=2 or a model without batch norm "
            f"(e.g. model.batch_norm=false)")
