"""Metrics that accumulate over batches on the host: update(output, target), compute()."""

import numpy as np

import ember
from ember.errors import ShapeError


def _np(x):
    return x.numpy() if isinstance(x, ember.Tensor) else np.asarray(x)


def predicted_labels(output, threshold=0.5):
    """Class scores (N, C) -> argmax; one score per sample (N,) or (N, 1) -> score > threshold."""
    out = _np(output)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    if out.dtype.kind in "iub":
        return out.reshape(-1).astype(np.int64)
    return (out.reshape(-1) > threshold).astype(np.int64)


class Metric:
    name = "metric"
    #: the running totals that add up across processes (data-parallel training)
    additive = ()

    def __init__(self):
        self.reset()

    def reduce_across_ranks(self):
        """Sum the running totals of every rank into each (ember.distributed)."""
        import ember.distributed as dist
        if not self.additive:
            raise NotImplementedError(
                f"metric {self.name!r} cannot be pooled across processes: list its running "
                f"totals in `additive` or define reduce_across_ranks()")
        totals = np.array([float(getattr(self, a)) for a in self.additive])
        summed = dist.world().allreduce(totals, "sum")
        for a, v in zip(self.additive, summed):
            setattr(self, a, type(getattr(self, a))(v))

    def reset(self):
        raise NotImplementedError(f"{type(self).__name__} must define reset()")

    def update(self, output, target):
        raise NotImplementedError(f"{type(self).__name__} must define update(output, target)")

    def compute(self):
        raise NotImplementedError(f"{type(self).__name__} must define compute()")


class Accuracy(Metric):
    """Fraction of samples whose predicted class equals the target."""

    name = "accuracy"
    additive = ("correct", "total")

    def __init__(self, threshold=0.5):
        self.threshold = threshold
        super().__init__()

    def reset(self):
        self.correct = self.total = 0

    def update(self, output, target):
        pred, t = predicted_labels(output, self.threshold), _np(target).reshape(-1)
        if pred.shape != t.shape:
            raise ShapeError(f"accuracy: {pred.shape[0]} predictions for {t.shape[0]} targets")
        self.correct += int((pred == t).sum())
        self.total += t.size

    def compute(self):
        return self.correct / self.total if self.total else float("nan")


class ConfusionMatrix(Metric):
    """counts[true, predicted]; the number of classes grows with the labels seen."""

    name = "confusion_matrix"

    def __init__(self, num_classes=None, threshold=0.5):
        self.num_classes, self.threshold = num_classes, threshold
        super().__init__()

    def reset(self):
        self.counts = np.zeros((self.num_classes or 0,) * 2, dtype=np.int64)

    def update(self, output, target):
        pred = predicted_labels(output, self.threshold)
        t = _np(target).reshape(-1).astype(np.int64)
        if pred.shape != t.shape:
            raise ShapeError(f"{self.name}: {pred.shape[0]} predictions for {t.shape[0]} targets")
        high = int(max(pred.max(initial=0), t.max(initial=0)))
        if t.size and t.min() < 0:       # NumPy's add.at would count it in the last class
            raise ShapeError(f"{self.name}: target class {t.min()} is negative")
        if self.num_classes is not None and high >= self.num_classes:
            raise ShapeError(f"{self.name}: class {high} is out of range for num_classes="
                             f"{self.num_classes}")
        self._grow(max(self.counts.shape[0], high + 1))
        np.add.at(self.counts, (t, pred), 1)

    def _grow(self, n):
        if n > self.counts.shape[0]:
            grown = np.zeros((n, n), dtype=np.int64)
            k = self.counts.shape[0]
            grown[:k, :k] = self.counts
            self.counts = grown

    def reduce_across_ranks(self):
        import ember.distributed as dist
        world = dist.world()
        self._grow(int(world.allreduce(np.array([self.counts.shape[0]]), "max")[0]))
        self.counts = world.allreduce(self.counts, "sum")

    def compute(self):
        return self.counts.copy()


class _PerClass(ConfusionMatrix):
    """Precision, recall and F1 from the confusion matrix: "macro" (the mean over
    classes), "micro" (from pooled counts) or "binary" (class 1 alone)."""

    def __init__(self, average="macro", num_classes=None, threshold=0.5):
        if average not in ("macro", "micro", "binary"):
            raise ValueError(f"{self.name}: average must be 'macro', 'micro' or 'binary', "
                             f"got {average!r}")
        self.average = average
        super().__init__(num_classes, threshold)

    def _parts(self):
        c = self.counts
        tp = np.diag(c).astype(np.float64)
        return tp, c.sum(axis=0) - tp, c.sum(axis=1) - tp   # tp, fp, fn per class

    @staticmethod
    def _ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)

    def compute(self):
        tp, fp, fn = self._parts()
        if self.average == "micro":
            tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
        elif self.average == "binary":
            if tp.size < 2:
                return 0.0
            tp, fp, fn = tp[1:2], fp[1:2], fn[1:2]
        return float(self.score(tp, fp, fn).mean()) if tp.size else float("nan")


class Precision(_PerClass):
    """tp / (tp + fp) per class (0 where a class is never predicted), then averaged."""

    name = "precision"

    def score(self, tp, fp, fn):
        return self._ratio(tp, tp + fp)


class Recall(_PerClass):
    """tp / (tp + fn) per class, then averaged."""

    name = "recall"

    def score(self, tp, fp, fn):
        return self._ratio(tp, tp + fn)


class F1(_PerClass):
    """2 tp / (2 tp + fp + fn) per class, then averaged."""

    name = "f1"

    def score(self, tp, fp, fn):
        return self._ratio(2 * tp, 2 * tp + fp + fn)


class MeanSquaredError(Metric):
    name = "mse"
    additive = ("sum", "count")

    def reset(self):
        self.sum = self.count = 0.0

    def update(self, output, target):
        out, t = _np(output).astype(np.float64), _np(target).astype(np.float64)
        if out.shape != t.shape:
            raise ShapeError(f"{self.name}: output {out.shape} and target {t.shape} differ")
        self.sum += float(self.term(out - t).sum())
        self.count += out.size

    @staticmethod
    def term(d):
        return d * d

    def compute(self):
        return self.sum / self.count if self.count else float("nan")


class MeanAbsoluteError(MeanSquaredError):
    name = "mae"

    @staticmethod
    def term(d):
        return np.abs(d)


METRICS = {"accuracy": Accuracy, "precision": Precision, "recall": Recall, "f1": F1,
           "confusion_matrix": ConfusionMatrix, "mse": MeanSquaredError, "mae": MeanAbsoluteError}
