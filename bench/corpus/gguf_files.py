"""Real GGUF files written with the ``gguf`` package's own writer, for the scanner's corpora."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_gguf(path: Path, template: str, key: str = "tokenizer.chat_template") -> Path:
    """A tiny GGUF model carrying ``template`` under ``key``, a vocabulary and one tensor."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_string(key, template)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a"])
    writer.add_tensor("w", np.ones((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
