"""Data: loaders with errors that point at the problem, and the DataLoader's contract."""

import gzip
import os
import struct

import numpy as np
import pytest

import ember
from ember.plugins.data import (DataLoader, TensorDataset, load_arrays, load_csv, load_digits,
                                load_idx, load_image_folder, load_mnist, normalize, one_hot,
                                scale, train_val_split)

FASHION = "/usr/share/datasets/fashion-mnist"


def test_csv_with_header_and_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2.5,0\n3,4,1\n\n")
    ds = load_csv(path, label_column="label")
    x, y = ds.arrays
    np.testing.assert_array_equal(x, [[1, 2.5], [3, 4]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1]


def test_csv_errors_name_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,x4,1\n")
    with pytest.raises(ember.DataError, match=r"bad.csv:3: column b: 'x4' is not a number"):
        load_csv(path)
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ember.DataError, match=r"bad.csv:3: 1 columns, expected 2"):
        load_csv(path)
    with pytest.raises(ember.DataError, match="no column named 'y'; the header has a, b"):
        load_csv(path, label_column="y")
    with pytest.raises(FileNotFoundError, match="ember downloads nothing"):
        load_csv(tmp_path / "nope.csv")


def _write_idx(path, array, gz=False):
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[array.dtype.type]
    data = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data += array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_and_checks(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, gz)
    np.testing.assert_array_equal(load_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), images)
    ds = load_mnist(tmp_path, "train")
    x, y = ds.arrays
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    assert load_mnist(tmp_path, "train", flatten=True).arrays[0].shape == (5, 784)


def test_idx_refuses_bad_magic_and_sizes(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x99\x01" + b"\x00" * 8)
    with pytest.raises(ember.DataError, match="not an IDX file"):
        load_idx(bad)
    short = tmp_path / "short"
    _write_idx(short, np.zeros((4, 3), dtype=np.uint8))
    short.write_bytes(short.read_bytes()[:-2])
    with pytest.raises(ember.DataError, match=r"promises shape \(4, 3\) \(12 bytes\) but 10 bytes follow"):
        load_idx(short)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist installs Fashion-MNIST"):
        load_mnist(tmp_path / "empty")


@pytest.mark.skipif(not os.path.isdir(FASHION), reason=f"Fashion-MNIST is not in {FASHION} "
                    "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_files_load():
    train, test = load_mnist(FASHION, "train"), load_mnist(FASHION, "test")
    assert len(train) == 60000 and len(test) == 10000
    assert train.arrays[0].shape == (60000, 1, 28, 28) and set(np.unique(test.arrays[1])) == set(range(10))


def test_arrays_and_image_folders(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((3, 2)), y=np.array([0, 1, 0]))
    assert len(load_arrays(tmp_path / "d.npz")) == 3
    with pytest.raises(ember.DataError, match="no array named z; it holds x, y"):
        load_arrays(tmp_path / "d.npz", features="z")
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 5), value, dtype=np.uint8)).save(tmp_path / "img" / cls / f"{i}.png")
    ds = load_image_folder(tmp_path / "img", grayscale=True)
    x, y = ds.arrays
    assert ds.classes == ["cat", "dog"] and x.shape == (4, 1, 4, 5) and y.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(x[2, 0, 0, 0], 200 / 255, rtol=1e-6)


def test_bundled_digits():
    x, y = load_digits().arrays
    assert x.shape == (1797, 64) and x.max() == 16 and sorted(set(y.tolist())) == list(range(10))


def test_transforms():
    x = np.array([[0.0, 2.0], [4.0, 2.0]])
    np.testing.assert_allclose(scale(x, 4.0), x / 4)
    np.testing.assert_allclose(normalize(x), [[-1, 0], [1, 0]])
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    train, val = train_val_split(TensorDataset(np.arange(10)), 0.3, seed=1)
    assert len(train) == 7 and len(val) == 3
    assert sorted(train.indices.tolist() + val.indices.tolist()) == list(range(10))


def test_dataloader_batches_shuffles_reproducibly_and_drops_last():
    ds = TensorDataset(np.arange(10, dtype=np.float64).reshape(10, 1), np.arange(10))
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert batches[0][0].dtype is ember.float32 and batches[0][1].dtype is ember.int64
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    a = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True, seed=3)]
    b = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True, seed=3)]
    assert a == b and a[0] != list(range(10)) and sorted(a[0]) == list(range(10))
    loader = DataLoader(ds, batch_size=10, shuffle=True, seed=3)
    first, second = next(iter(loader))[1].tolist(), next(iter(loader))[1].tolist()
    assert first != second   # a new order each epoch
    for prefetch in (0, 2):
        got = [b[1].tolist() for b in DataLoader(ds, batch_size=3, prefetch=prefetch)]
        assert sum(got, []) == list(range(10))


def test_bad_data_files_and_loaders_are_named(tmp_path):
    (tmp_path / "latin1.csv").write_bytes(b"a,y\n1,0\n\xe9,1\n")
    with pytest.raises(ember.DataError, match=r"latin1.csv: not UTF-8 text \(invalid continuation "
                                              r"byte at byte 8\)"):
        load_csv(tmp_path / "latin1.csv")
    np.savez(tmp_path / "objects.npz", x=np.array([object()], dtype=object), y=np.zeros(1))
    with pytest.raises(ember.DataError, match="objects.npz: .*ember loads numbers only, never pickles"):
        load_arrays(tmp_path / "objects.npz")
    with pytest.raises(TypeError, match="the dataset must have a length and items by index"):
        DataLoader(i for i in range(3))
    for size in (0, 2.5, True):       # 2.5 was a TypeError from inside
        with pytest.raises(ValueError, match=f"batch_size must be an int >= 1 .*got {size}"):
            DataLoader([1, 2, 3], batch_size=size)


def test_dataloader_names_samples_of_different_shapes():
    loader = DataLoader([(np.ones(2), 1), (np.ones(3), 1)], batch_size=2)
    with pytest.raises(ember.ShapeError, match=r"field 0 .* \(2,\) at sample 0, \(3,\) at sample 1"):
        list(loader)


def test_dataloader_hands_worker_errors_to_the_caller():
    class Broken(TensorDataset):
        def take(self, idx):
            raise ValueError("row 3 is broken")
    with pytest.raises(ValueError, match="row 3 is broken"):
        list(DataLoader(Broken(np.zeros(5)), batch_size=2))


def test_text_windows_are_bytes_and_their_next_byte(tmp_path):
    from ember.plugins.data import load_text_windows, text_corpus
    text = bytes(range(32, 127)) * 10                    # 950 bytes: 95 held out
    (tmp_path / "t.txt").write_bytes(text)
    train = load_text_windows(tmp_path / "t.txt", context=8)
    assert len(train) == 106                         # starts 0, 8, ..., 840: each has a next byte
    x, y = train.take(np.array([0, 3]))
    assert x.dtype == y.dtype == np.int64 and x.shape == y.shape == (2, 8)
    assert bytes(x[1].tolist()) == text[24:32] and bytes(y[1].tolist()) == text[25:33]
    _, last_y = train[105]
    assert bytes(last_y.tolist()) == text[841:849]
    val = load_text_windows(tmp_path / "t.txt", context=8, split="validation", windows=5, seed=3)
    again = load_text_windows(tmp_path / "t.txt", context=8, split="validation", windows=5, seed=3)
    np.testing.assert_array_equal(val.starts, again.starts)
    held_out = text[855:]
    for ids, nxt in zip(*val.take(np.arange(5))):
        start = held_out.index(bytes(ids.tolist()))
        assert held_out[start + 1:start + 9] == bytes(nxt.tolist())
    # the standard library: every tenth file held out whole, in sorted order
    train_bytes, val_bytes, described = text_corpus()
    assert "files of Lib/*.py" in described and train_bytes.size > 5 * val_bytes.size > 0


@pytest.mark.parametrize("options,message", [
    ({"split": "test"}, "split must be one of train, validation, got 'test'"),
    ({"context": 0}, "context must be a whole number >= 1, got 0"),
    ({"windows": 0}, "windows must be a whole number >= 1, got 0"),
    ({"context": 900}, "has 855 bytes, too few for one window of context 900"),
])
def test_text_windows_refuse_bad_options(tmp_path, options, message):
    from ember.plugins.data import load_text_windows
    (tmp_path / "t.txt").write_bytes(b"x" * 950)
    with pytest.raises(ember.DataError, match=message):
        load_text_windows(tmp_path / "t.txt", **options)
    with pytest.raises(FileNotFoundError, match="missing.txt: not found"):
        load_text_windows(tmp_path / "missing.txt")


# -- torch.utils.data's pieces, against PyTorch's ------------------------------------
class _Squares:
    """A map-style dataset of dict samples, and one of (array, int, str) tuples."""

    def __init__(self, n, kind):
        self.n, self.kind = n, kind

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = np.full(3, float(i), np.float32)
        return {"x": x, "y": i * i} if self.kind == "dict" else (x, i % 3, f"s{i}")


def _plain(batch):
    """A batch (ember's or PyTorch's) as nested Python values, for comparing."""
    if isinstance(batch, dict):
        return {k: _plain(v) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)) and batch and not isinstance(batch[0], str):
        return [_plain(v) for v in batch]
    return batch.tolist() if hasattr(batch, "tolist") else batch


def test_deterministic_loading_batches_as_pytorchs():
    """Sequential order, BatchSampler, a list of index lists as batch_sampler, dict and
    tuple samples (default_collate: dicts of batched fields, strings as lists),
    ConcatDataset and StackDataset, collate_fn: the same batches as torch.utils.data."""
    torch = pytest.importorskip("torch")
    import torch.utils.data as tud

    from ember.plugins import data
    cases = [
        lambda m, d: d.DataLoader(_Squares(7, "dict"), batch_size=3),
        lambda m, d: d.DataLoader(_Squares(7, "tuple"), batch_size=2, drop_last=True),
        lambda m, d: d.DataLoader(_Squares(9, "dict"), batch_sampler=d.BatchSampler(
            d.SequentialSampler(range(9)), 4, False)),
        lambda m, d: d.DataLoader(_Squares(9, "tuple"), batch_sampler=[[3, 1], [8, 0, 2]]),
        lambda m, d: d.DataLoader(d.ConcatDataset([_Squares(3, "dict"), _Squares(4, "dict")]),
                                  batch_size=5),
        lambda m, d: d.DataLoader(d.StackDataset(a=_Squares(4, "dict"), b=_Squares(4, "tuple")),
                                  batch_size=4),
        lambda m, d: d.DataLoader(_Squares(5, "tuple"), batch_size=5,
                                  collate_fn=lambda items: [it[1] for it in items]),
        lambda m, d: d.DataLoader(_Squares(3, "dict"), batch_size=None),      # unbatched
    ]
    for k, make in enumerate(cases):
        ours = [_plain(b) for b in make(ember, data)]
        theirs = [_plain(b) for b in make(torch, tud)]
        assert ours == theirs, k
    concat = data.ConcatDataset([_Squares(3, "dict"), _Squares(4, "dict")])
    assert concat[-1]["y"] == 9 and concat.cumulative_sizes == [3, 7]
    with pytest.raises(IndexError):
        concat[7]


def test_iterable_datasets_stream_in_batches():
    torch = pytest.importorskip("torch")
    import torch.utils.data as tud

    from ember.plugins import data

    def stream(lib):
        class Counting(lib.IterableDataset):
            def __iter__(self):
                return iter([np.float32(i) for i in range(7)])
        return lib.DataLoader(lib.ChainDataset([Counting(), Counting()]), batch_size=4)
    assert [_plain(b) for b in stream(data)] == [_plain(b) for b in stream(tud)]
    with pytest.raises(TypeError, match="no length"):
        len(stream(data))
    with pytest.raises(ValueError, match="IterableDataset is read in its own order"):
        data.DataLoader(data.ChainDataset([]), shuffle=True)


def test_random_samplers_and_random_split_draw_as_documented():
    """Seeded samplers repeat; RandomSampler is a permutation (with num_samples past the
    length: whole ones, then part); WeightedRandomSampler follows its weights; random_split
    takes lengths or fractions (PyTorch's rounding) into disjoint subsets covering all."""
    from ember.plugins import data
    ds = list(range(10))
    a = list(data.RandomSampler(ds, generator=3))
    assert sorted(a) == ds and a == list(data.RandomSampler(ds, generator=3))
    long = list(data.RandomSampler(ds, num_samples=25, generator=1))
    assert sorted(long[:10]) == ds and sorted(long[10:20]) == ds and len(long) == 25
    with_replacement = list(data.RandomSampler(ds, replacement=True, num_samples=50, generator=2))
    assert len(with_replacement) == 50 and set(with_replacement) <= set(ds)
    sub = list(data.SubsetRandomSampler([4, 7, 9], generator=5))
    assert sorted(sub) == [4, 7, 9]
    weights = np.array([0.0, 1.0, 3.0, 0.0])
    drawn = np.array(list(data.WeightedRandomSampler(weights, 4000, generator=6)))
    assert set(drawn) == {1, 2} and abs(np.mean(drawn == 2) - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 4000)
    with pytest.raises(ValueError, match="samples without replacement from 2 nonzero weights"):
        data.WeightedRandomSampler(weights, 3, replacement=False)
    parts = data.random_split(range(10), [0.5, 0.3, 0.2], generator=7)
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(i for p in parts for i in (p[j] for j in range(len(p)))) == ds
    torch = pytest.importorskip("torch")
    odd = data.random_split(range(11), [0.34, 0.33, 0.33], generator=0)
    theirs = torch.utils.data.random_split(range(11), [0.34, 0.33, 0.33])
    assert [len(p) for p in odd] == [len(p) for p in theirs]
    with pytest.raises(ValueError, match="must add up to the dataset's 10"):
        data.random_split(range(10), [4, 4])
    loader = data.DataLoader(TensorDataset(np.arange(12.0)), batch_size=4,
                             sampler=data.WeightedRandomSampler(np.ones(12), 8, generator=1))
    assert len(loader) == 2 and sum(len(b[0]) for b in loader) == 8
    with pytest.raises(ValueError, match="batch_sampler gives the batches"):
        data.DataLoader(TensorDataset(np.arange(4.0)), batch_size=2, batch_sampler=[[0, 1]])


def test_a_dataset_of_plain_arrays_batches_them_stacked():
    """Samples that are arrays (not tuples) stack into one batch tensor, as PyTorch's;
    the collate zipped their rows into fields."""
    torch = pytest.importorskip("torch")
    samples = [np.arange(3.0, dtype=np.float32) + i for i in range(5)]
    ours = [b.numpy().tolist() for b in DataLoader(samples, batch_size=2)]
    theirs = [b.numpy().tolist() for b in torch.utils.data.DataLoader(samples, batch_size=2)]
    assert ours == theirs
