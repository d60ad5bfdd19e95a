"""The table that drives the first-order optimizer tests: (our class, torch's class, kwargs).

Every constructor argument of each optimizer appears alone and in combination with the others.
`foreach` is not in the table: the tests run each case on both paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

import optimizers


@dataclass(frozen=True)
class Case:
    ours: type
    theirs: type
    kwargs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.ours.__name__}({args})"


def _cases(name: str, *kwargs_list: dict) -> list[Case]:
    return [Case(getattr(optimizers, name), getattr(torch.optim, name), kw) for kw in kwargs_list]


CASES: list[Case] = [
    *_cases("SGD",
            dict(lr=0.1),
            dict(lr=0.1, momentum=0.9),
            dict(lr=0.1, momentum=0.9, dampening=0.5),
            dict(lr=0.1, momentum=0.9, nesterov=True),
            dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, maximize=True),
            dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1, maximize=True),
            dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
            dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    *_cases("Adagrad",
            dict(),
            dict(lr=0.1, lr_decay=0.05),
            dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, initial_accumulator_value=0.5),
            dict(lr=0.1, eps=1e-3),
            dict(lr=0.1, maximize=True),
            dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-6,
                 maximize=True),
            dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    *_cases("Adadelta",
            dict(),
            dict(lr=0.5, rho=0.5),
            dict(eps=1e-3),
            dict(weight_decay=0.1),
            dict(maximize=True),
            dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True),
            dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    *_cases("RMSprop",
            dict(),
            dict(alpha=0.9),
            dict(eps=1e-4),
            dict(weight_decay=0.1),
            dict(momentum=0.9),
            dict(centered=True),
            dict(momentum=0.9, centered=True),
            dict(maximize=True),
            dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5, centered=True,
                 maximize=True),
            dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5, centered=True)),
    *_cases("Adam",
            dict(),
            dict(lr=0.01, betas=(0.8, 0.9)),
            dict(lr=0.01, eps=1e-4),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, amsgrad=True),
            dict(lr=0.01, maximize=True),
            dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
            dict(lr=0.01, betas=(0.5, 0.6), eps=1e-6, weight_decay=0.1, amsgrad=True, maximize=True),
            dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1, amsgrad=True,
                 decoupled_weight_decay=True)),
    *_cases("AdamW",
            dict(),
            dict(lr=0.01, weight_decay=0.1),
            dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4),
            dict(lr=0.01, amsgrad=True),
            dict(lr=0.01, maximize=True),
            dict(lr=0.01, betas=(0.5, 0.6), eps=1e-6, weight_decay=0.2, amsgrad=True, maximize=True)),
]


# (our class, torch's class, bad kwargs): each must raise ValueError with torch's message.
INVALID: list[tuple[type, type, dict]] = [
    (optimizers.SGD, torch.optim.SGD, dict(lr=-0.1)),
    (optimizers.SGD, torch.optim.SGD, dict(lr=torch.tensor([0.1, 0.2]))),
    (optimizers.SGD, torch.optim.SGD, dict(momentum=-0.5)),
    (optimizers.SGD, torch.optim.SGD, dict(weight_decay=-1e-4)),
    (optimizers.SGD, torch.optim.SGD, dict(nesterov=True)),
    (optimizers.SGD, torch.optim.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True)),
    (optimizers.Adagrad, torch.optim.Adagrad, dict(lr=-1.0)),
    (optimizers.Adagrad, torch.optim.Adagrad, dict(lr_decay=-0.1)),
    (optimizers.Adagrad, torch.optim.Adagrad, dict(weight_decay=-0.1)),
    (optimizers.Adagrad, torch.optim.Adagrad, dict(initial_accumulator_value=-0.1)),
    (optimizers.Adagrad, torch.optim.Adagrad, dict(eps=-1e-10)),
    (optimizers.Adadelta, torch.optim.Adadelta, dict(lr=-0.5)),
    (optimizers.Adadelta, torch.optim.Adadelta, dict(rho=-0.1)),
    (optimizers.Adadelta, torch.optim.Adadelta, dict(rho=1.5)),
    (optimizers.Adadelta, torch.optim.Adadelta, dict(eps=-1e-6)),
    (optimizers.Adadelta, torch.optim.Adadelta, dict(weight_decay=-0.2)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(lr=-0.01)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(eps=-1e-8)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(momentum=-0.9)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(weight_decay=-0.1)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(alpha=-0.99)),
    (optimizers.Adam, torch.optim.Adam, dict(lr=-0.001)),
    (optimizers.Adam, torch.optim.Adam, dict(lr=torch.tensor([1e-3, 1e-3]))),
    (optimizers.Adam, torch.optim.Adam, dict(eps=-1e-8)),
    (optimizers.Adam, torch.optim.Adam, dict(betas=(-0.1, 0.999))),
    (optimizers.Adam, torch.optim.Adam, dict(betas=(1.0, 0.999))),
    (optimizers.Adam, torch.optim.Adam, dict(betas=(0.9, 1.0))),
    (optimizers.Adam, torch.optim.Adam, dict(betas=(0.9, torch.tensor(0.999)))),
    (optimizers.Adam, torch.optim.Adam, dict(weight_decay=-0.01)),
    (optimizers.AdamW, torch.optim.AdamW, dict(lr=-0.001)),
    (optimizers.AdamW, torch.optim.AdamW, dict(betas=(0.9, 1.5))),
    (optimizers.AdamW, torch.optim.AdamW, dict(eps=-1.0)),
    (optimizers.AdamW, torch.optim.AdamW, dict(weight_decay=-0.01)),
]

# Our twin of each hydra config in configs/optimizer/ (the toy-problem test reads the yaml files).
CONFIGS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw"]
