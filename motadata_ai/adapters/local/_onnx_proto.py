"""The few ONNX protobuf messages a plain inference graph needs, written in protobuf's wire format.

The ``onnx`` package would write them too, but importing it takes about a second here (most of it
``ml_dtypes``' extension), longer than building and loading the whole session; onnxruntime reads
the bytes these functions write. Field numbers are those of ``onnx.proto`` (proto2: repeated
scalars unpacked). Only what :mod:`.onnx_bert` uses is here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["FLOAT", "INT32", "INT64", "MICROSOFT", "external_tensor", "model", "node", "tensor", "value_info"]

FLOAT, INT32, INT64 = 1, 6, 7  # TensorProto.DataType
MICROSOFT = "com.microsoft"  # the domain of onnxruntime's own operators (contrib ops)
_ATTRIBUTE_FLOAT, _ATTRIBUTE_INT, _ATTRIBUTE_INTS = 1, 2, 7  # AttributeProto.AttributeType
_EXTERNAL = 1  # TensorProto.DataLocation


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as its two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def _attribute(name: str, value: int | float | Sequence[int]) -> bytes:
    if isinstance(value, float):
        body = _float(2, value) + _int(20, _ATTRIBUTE_FLOAT)
    elif isinstance(value, int):
        body = _int(3, value) + _int(20, _ATTRIBUTE_INT)
    else:
        body = b"".join(_int(8, item) for item in value) + _int(20, _ATTRIBUTE_INTS)
    return _bytes(1, name) + body


def node(
    op_type: str,
    inputs: Iterable[str],
    outputs: Iterable[str],
    *,
    domain: str = "",
    **attributes: int | float | Sequence[int],
) -> bytes:
    """A ``NodeProto`` (``domain``: the operator set's, empty for ONNX's own)."""
    body = b"".join(_bytes(1, name) for name in inputs) + b"".join(_bytes(2, name) for name in outputs)
    body += _bytes(4, op_type) + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
    return body + (_bytes(7, domain) if domain else b"")


def tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto`` holding ``array`` (float32 or int64) as raw little-endian data."""
    kind = INT64 if array.dtype == np.int64 else FLOAT
    data = np.ascontiguousarray(array, dtype="<i8" if kind == INT64 else "<f4").tobytes()
    return b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name) + _bytes(9, data)


def external_tensor(name: str, shape: Sequence[int], nbytes: int) -> bytes:
    """A float ``TensorProto`` whose data is handed to onnxruntime at session creation."""
    entries = (("location", "in-memory"), ("offset", "0"), ("length", str(nbytes)))
    body = b"".join(_int(1, d) for d in shape) + _int(2, FLOAT) + _bytes(8, name)
    body += b"".join(_bytes(13, _bytes(1, key) + _bytes(2, value)) for key, value in entries)
    return body + _int(14, _EXTERNAL)


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto``: a tensor input or output, each dimension a size or a name."""
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    *,
    name: str,
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    opset: int = 17,
    ir_version: int = 8,
    domains: Sequence[str] = (),
) -> bytes:
    """A serialised ``ModelProto`` of one graph on the default operator set (and version 1 of each
    of ``domains``)."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, name)
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs)
    opsets = _bytes(8, _int(2, opset)) + b"".join(_bytes(8, _bytes(1, d) + _int(2, 1)) for d in domains)
    return _int(1, ir_version) + _bytes(2, "motadata-ai") + _bytes(7, graph) + opsets
