"""Data (``ember.plugins.data``): datasets, a prefetching DataLoader, transforms and
loaders for CSV, IDX (MNIST), .npy/.npz, image folders and the bundled digits."""

from .datasets import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset,
                       Subset, TensorDataset, default_collate, random_split)
from .loader import DataLoader, get_worker_info
from .samplers import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                       SubsetRandomSampler, WeightedRandomSampler)
from .loaders import (load_arrays, load_csv, load_digits, load_idx, load_image_folder,
                      load_mnist)
from .text import TextWindows, load_text_windows, random_windows, text_corpus
from .transforms import normalize, one_hot, scale, train_val_split

DATASETS = {"digits": load_digits, "mnist": load_mnist, "fashion_mnist": load_mnist,
            "csv": load_csv, "idx": load_idx, "arrays": load_arrays,
            "image_folder": load_image_folder, "text_windows": load_text_windows}

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DATASETS", "DataLoader", "Dataset",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
           "Subset", "SubsetRandomSampler", "TensorDataset", "TextWindows",
           "WeightedRandomSampler", "default_collate", "get_worker_info", "random_split", "load_arrays", "load_csv", "load_digits", "load_idx",
           "load_image_folder", "load_mnist", "load_text_windows", "normalize", "one_hot",
           "random_windows", "scale", "text_corpus", "train_val_split"]
