"""The default tokenizer chooses tiktoken (or the approximation) on first use, not when built."""

from __future__ import annotations

import json
import subprocess
import sys

from motadata_ai.adapters.tokenizer import DeferredTokenizer, TiktokenTokenizer, default_tokenizer


def test_building_the_default_tokenizer_loads_no_encoding() -> None:
    code = (
        "import sys, json; from motadata_ai.adapters.tokenizer import default_tokenizer; "
        "t = default_tokenizer(); before = 'tiktoken' in sys.modules; t.warm_up(); "
        "print(json.dumps([before, 'tiktoken' in sys.modules, t.name]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, name = json.loads(result.stdout)
    assert before is False and after is True and name == "tiktoken:cl100k_base"


def test_the_deferred_tokenizer_counts_as_tiktoken_does() -> None:
    tokenizer = default_tokenizer()
    assert isinstance(tokenizer, DeferredTokenizer)
    reference = TiktokenTokenizer()
    text = "How do I reset my password? <|endoftext|> naïve café"
    assert tokenizer.count(text) == reference.count(text)
    assert tokenizer.truncate(text, 4) == reference.truncate(text, 4)
