"""The byte-level tokenizer of the examples: a text's UTF-8 bytes are its ids (256 of them).

Tokenizers are not ember's job; this one needs no vocabulary file, so a GPT trains
on any text with nothing to download.
"""


class ByteTokenizer:
    """ids = UTF-8 bytes; decoding replaces an incomplete or invalid sequence with U+FFFD."""

    vocab_size = 256

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < 256]
        if bad:
            raise ValueError(f"ByteTokenizer.decode: ids must be bytes (0 to 255), got {bad[0]}")
        return bytes(ids).decode("utf-8", errors="replace")
