"""AdaptiveLogSoftmaxWithLoss (Grave et al., "Efficient softmax approximation for GPUs"),
as torch.nn's: a head over the ``cutoffs[0]`` most frequent classes plus one entry per
tail cluster, each cluster a two-layer projection shrunk by ``div_value`` per cluster;
the same arguments, state-dict keys (head.weight, tail.0.0.weight, tail.0.1.weight...)
and results (output, loss)."""

import collections

import ember
from ember.errors import IndexingError, ShapeError

from . import functional as F
from .layers import Linear
from .module import Module, ModuleList, Sequential

ASMoutput = collections.namedtuple("ASMoutput", "output loss")


class AdaptiveLogSoftmaxWithLoss(Module):
    """log p(target | input) for (N, in_features) input and N targets in [0, n_classes);
    a cluster's projections run only on the rows whose targets fall in it (their rows
    are found on the host, as PyTorch's nonzero finds them)."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 dtype=None, backend=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if (cutoffs != sorted(cutoffs) or min(cutoffs, default=1) <= 0
                or max(cutoffs, default=0) > n_classes - 1 or len(set(cutoffs)) != len(cutoffs)
                or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features, self.n_classes, self.div_value = in_features, n_classes, div_value
        self.head_bias = head_bias
        self.cutoffs = cutoffs + [n_classes]
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = dict(dtype=dtype, backend=backend)
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        tail = []
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            tail.append(Sequential(Linear(in_features, hidden, bias=False, **kw),
                                   Linear(hidden, size, bias=False, **kw)))
        self.tail = ModuleList(tail)

    def _checked(self, x):
        if x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss: input must be (N, {self.in_features}) "
                             f"or ({self.in_features},), got {tuple(x.shape)}")
        return x if x.ndim == 2 else x.unsqueeze(0)

    def forward(self, input, target):  # noqa: A002  (PyTorch's names)
        unbatched = input.ndim == 1
        x = self._checked(input)
        target = target.reshape(-1) if unbatched else target
        if target.ndim != 1 or target.shape[0] != x.shape[0]:
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss: target must be ({x.shape[0]},), got "
                             f"{tuple(target.shape)}")
        host = target.numpy()
        if host.size and (host.min() < 0 or host.max() >= self.n_classes):
            raise IndexingError(f"AdaptiveLogSoftmaxWithLoss: targets must be in [0, "
                                f"{self.n_classes - 1}], got values from {host.min()} to "
                                f"{host.max()}")
        index = target.backend.default_int
        output = ember.zeros((x.shape[0],), dtype=x.dtype, backend=x.backend)
        gather = ember.tensor(host, dtype=index, backend=x.backend)
        bounds = [0] + self.cutoffs
        for i in range(1, len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = ((host >= low) & (host < high)).nonzero()[0]
            if not rows.size:
                continue
            rows_t = ember.tensor(rows, dtype=index, backend=x.backend)
            relative = ember.tensor(host[rows] - low, dtype=index, backend=x.backend)
            cluster = F.log_softmax(self.tail[i - 1](x.index_select(0, rows_t)), dim=1)
            local = ember.take_along_axis(cluster, relative.unsqueeze(1), 1).squeeze(1)
            output = output.index_copy(0, rows_t, local)
            gather = gather.index_fill(0, rows_t, self.shortlist_size + i - 1)
        head = F.log_softmax(self.head(x), dim=1)
        output = output + ember.take_along_axis(head, gather.unsqueeze(1), 1).squeeze(1)
        if unbatched:
            output = output.squeeze(0)
        return ASMoutput(output, (-output).mean())

    def log_prob(self, input):  # noqa: A002
        """log p(class | input) for every class: (N, n_classes)."""
        unbatched = input.ndim == 1
        x = self._checked(input)
        head = F.log_softmax(self.head(x), dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i, tail in enumerate(self.tail):
            cluster = F.log_softmax(tail(x), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        out = ember.cat(parts, 1)
        return out.squeeze(0) if unbatched else out

    def predict(self, input):  # noqa: A002
        """The most probable class of each row."""
        return self.log_prob(input).argmax(-1)

    def extra_repr(self):
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, "
                f"cutoffs={self.cutoffs[:-1]}, div_value={self.div_value}")
