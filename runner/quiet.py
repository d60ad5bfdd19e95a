"""What `python train.py` prints: the progress, the recall table, the summary and the run folder.

Lightning reports its setup ("GPU available: ...", "Seed set to ...", checkpoint restores) and an
advertising tip through Python logging at INFO; its documented switch is the level of its loggers.
One deprecation warning comes from inside Lightning itself (its pytree helper still builds torch's
deprecated LeafSpec), which a user cannot act on: it is filtered by its exact message. Every other
warning still shows.
"""
from __future__ import annotations

import logging
import warnings

LIBRARY_LOGGERS = ("pytorch_lightning", "lightning_fabric")

# (category, regular expression matching the start of the message)
FILTERED_WARNINGS = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
)


def quiet_library_notices() -> None:
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for category, message in FILTERED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
