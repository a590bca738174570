"""Loaders from files on disk into TensorDatasets. Nothing downloads: a missing file
is an error that says where to put it."""

import csv
import gzip
import io
import os
from importlib import resources

import numpy as np

from ember.errors import DataError

from .datasets import TensorDataset


def _open_maybe_gzip(path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def _missing(path, what):
    return FileNotFoundError(f"{path}: not found. ember downloads nothing; {what}")


# -- CSV ----------------------------------------------------------------------------
def load_csv(path, label_column=-1, header=True, delimiter=",", text=None):
    """Numbers in columns; one of them the label. ``label_column`` is a name (with a
    header) or an index; None for no label. Labels that are all integers load as int64.
    A value that is not a number is an error naming its line and column."""
    source = os.fspath(path) if text is None else "<text>"
    if text is None:
        if not os.path.exists(source):
            raise _missing(source, "pass the path of an existing CSV file")
        with _open_maybe_gzip(source) as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                            f"save it as UTF-8") from None
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    start = 1 if header else 0
    names = rows[0] if header and rows else None
    rows = rows[start:]
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise DataError(f"{source}: no data rows")
    width = len(rows[0])
    if isinstance(label_column, str):
        if names is None or label_column not in names:
            raise DataError(f"{source}: no column named {label_column!r}; the header has "
                            f"{', '.join(names or [])}")
        label_index = names.index(label_column)
    elif label_column is None:
        label_index = None
    else:
        if not -width <= label_column < width:
            raise DataError(f"{source}: label column {label_column} is out of range for "
                            f"{width} columns")
        label_index = label_column % width
    values = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        line = r + start + 1
        if len(row) != width:
            raise DataError(f"{source}:{line}: {len(row)} columns, expected {width}")
        for c, cell in enumerate(row):
            try:
                values[r, c] = float(cell)
            except ValueError:
                col = names[c] if names else c + 1
                raise DataError(f"{source}:{line}: column {col}: {cell!r} is not a number") from None
    if label_index is None:
        return TensorDataset(values.astype(np.float32))
    labels = values[:, label_index]
    features = np.delete(values, label_index, axis=1).astype(np.float32)
    if np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    return TensorDataset(features, labels)


# -- IDX (MNIST, Fashion-MNIST) ------------------------------------------------------
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path):
    """An IDX file (gzip or raw) as a NumPy array, checking the magic number and size."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _missing(path, "put the IDX file there (MNIST and Fashion-MNIST ship them)")
    with _open_maybe_gzip(path) as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (magic bytes {data[:4].hex() or 'missing'})")
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - 4 - 4 * ndim
    if body != need:
        raise DataError(f"{path}: the header promises shape {shape} ({need} bytes) but "
                        f"{body} bytes follow")
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape).astype(
        dtype.newbyteorder("="))


_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise _missing(os.path.join(directory, stem + "[.gz]"),
                   f"put the MNIST-format files {', '.join(s for pair in _MNIST_FILES.values() for s in pair)} "
                   f"(gzip or raw) in {directory} (Debian's dataset-fashion-mnist installs "
                   f"Fashion-MNIST in /usr/share/datasets/fashion-mnist)")


def load_mnist(directory, split="train", flatten=False):
    """MNIST or Fashion-MNIST from IDX files: images scaled to [0, 1] as float32,
    (N, 1, 28, 28) or (N, 784) with ``flatten``; labels int64."""
    if split not in _MNIST_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    images_file, labels_file = (_find(directory, s) for s in _MNIST_FILES[split])
    images, labels = load_idx(images_file), load_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{directory}: images {images.shape} and labels {labels.shape} do not "
                        f"pair up as MNIST does")
    x = images.astype(np.float32) / 255.0
    x = x.reshape(len(x), -1) if flatten else x[:, None]
    return TensorDataset(x, labels.astype(np.int64))


# -- arrays and images -----------------------------------------------------------------
def load_arrays(path, features="x", labels="y"):
    """Features and labels from a .npz (by key) or features alone from a .npy, never unpickling."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _missing(path, "pass the path of an existing .npy or .npz file")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    if isinstance(data, np.ndarray):
        return TensorDataset(data)
    with data:
        missing = [k for k in (features, labels) if k is not None and k not in data.files]
        if missing:
            raise DataError(f"{path}: no array named {', '.join(missing)}; it holds "
                            f"{', '.join(data.files)}")
        try:         # members load here: an object array would need unpickling
            return TensorDataset(data[features], data[labels]) if labels else \
                TensorDataset(data[features])
        except ValueError as exc:
            raise DataError(f"{path}: {exc}; ember loads numbers only, never pickles") from None


def load_image_folder(root, size=None, grayscale=False):
    """Images in root/<class>/*: one class per subfolder (sorted names -> labels 0..k-1),
    read with Pillow, scaled to [0, 1], shaped (N, C, H, W). ``size`` resizes to (w, h)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("load_image_folder needs Pillow: pip install 'ember[images]'") from None
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise _missing(root, "make a folder with one subfolder of images per class")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise DataError(f"{root}: no class subfolders")
    images, labels = [], []
    for label, name in enumerate(classes):
        for fname in sorted(os.listdir(os.path.join(root, name))):
            path = os.path.join(root, name, fname)
            try:
                with Image.open(path) as img:
                    img = img.convert("L" if grayscale else "RGB")
                    if size is not None:
                        img = img.resize(tuple(size))
                    arr = np.asarray(img, dtype=np.float32) / 255.0
            except OSError as exc:
                raise DataError(f"{path}: not a readable image ({exc})") from None
            if images and arr.shape != images[0].shape:
                raise DataError(f"{path}: size {arr.shape[:2]} differs from {images[0].shape[:2]}; "
                                f"pass size=(w, h) to resize")
            images.append(arr)
            labels.append(label)
    x = np.stack(images)
    x = x[:, None] if grayscale else x.transpose(0, 3, 1, 2)
    ds = TensorDataset(x, np.asarray(labels, dtype=np.int64))
    ds.classes = classes
    return ds


def load_digits():
    """The bundled 8x8 digits (1,797 samples, grey levels 0..16, BSD-3; see bundled/NOTICE.md)."""
    data = resources.files("ember.plugins.data").joinpath("bundled/digits.csv.gz").read_bytes()
    return load_csv(None, label_column="label", text=gzip.decompress(data).decode())
