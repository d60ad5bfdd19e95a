"""Hand-written torch.optim.Optimizer subclasses, drop-ins for torch's, one file per algorithm."""
# first-order optimizers (twins of torch.optim's)
from .sgd import SGD
from .adagrad import Adagrad
from .adadelta import Adadelta
from .rmsprop import RMSprop
from .adam import Adam
from .adamw import AdamW

# closure optimizers: step(closure) is required
from .lbfgs import LBFGS
from .bfgs import BFGS
from .conjugate_gradient import ConjugateGradient
from .newton import Newton

__all__ = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW",
           "LBFGS", "BFGS", "ConjugateGradient", "Newton"]
