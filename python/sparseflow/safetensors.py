# safetensors.py - the safetensors files SparseFlow reads, written and read
# with NumPy only (docs/FORMATS.md).
#
# A file is an 8-byte little-endian header length, a JSON header (name ->
# dtype, shape, data_offsets; optional "__metadata__" of strings) and the raw
# little-endian data.  The writer stores F32, F16 or BF16 per tensor (BF16
# rounded to nearest even, NaN kept a NaN) and pads the header with spaces so
# that the data starts 8-byte aligned.  The reader widens F32, F16, BF16 and
# F64 exactly to float64; it decodes on its own and does not use the
# writer's conversions, so a round trip checks one against the other.
#
#     from sparseflow.safetensors import write_safetensors, read_safetensors
#     write_safetensors("w.safetensors", {"fc.weight": w, "fc.bias": (b, "BF16")})
#     tensors, metadata = read_safetensors("w.safetensors")

import json
import struct

import numpy as np

DTYPES = ("F32", "F16", "BF16")


# --------------------------------------------------------------------------
# dtype conversion
# --------------------------------------------------------------------------

def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = (rounded & 0xFFFF).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():  # keep NaN a (quiet) NaN instead of rounding into inf
        out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def bf16_bits_to_f32(bits):
    bits = np.ascontiguousarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode(a, dtype):
    """Raw little-endian bytes of array `a` stored as `dtype`."""
    a = np.asarray(a)
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "BF16":
        return f32_to_bf16_bits(a).astype("<u2").tobytes()
    raise ValueError("unsupported dtype %r" % (dtype,))


def quantize(a, dtype):
    """The float64 values `a` takes once stored as `dtype` (for tests)."""
    a = np.asarray(a)
    if dtype == "F32":
        return a.astype(np.float32).astype(np.float64)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).astype(np.float64)
    raise ValueError("unsupported dtype %r" % (dtype,))


# --------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write a safetensors file.

    tensors: dict name -> ndarray, or name -> (ndarray, dtype) to override
    the default `dtype` for one tensor.  Insertion order is the data order.
    metadata: optional dict str -> str stored under "__metadata__".
    """
    header = {}
    blobs = []
    offset = 0
    for name, val in tensors.items():
        if isinstance(val, tuple):
            arr, dt = val
        else:
            arr, dt = val, dtype
        if dt not in DTYPES:
            raise ValueError("tensor %s: unsupported dtype %r" % (name, dt))
        arr = np.asarray(arr)
        raw = encode(arr, dt)
        header[name] = {"dtype": dt, "shape": [int(d) for d in arr.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((-len(hdr)) % 8)  # pad so the data section is 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)


# --------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------

_ST_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2),
              "F64": ("<f8", 8)}


def read_safetensors(path):
    """Return (dict name -> float64 ndarray, metadata dict or None)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("%s: header length %d beyond end of file" % (path, n))
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %s"
                             % (path, name, dt))
        npdt, size = _ST_DTYPES[dt]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(v) for v in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * size or begin < 0 or end > len(data):
            raise ValueError("%s: tensor %s has bad data_offsets %s"
                             % (path, name, info["data_offsets"]))
        raw = np.frombuffer(data[begin:end], dtype=npdt, count=count)
        if dt == "BF16":
            # bf16 is the top half of an IEEE float32: exact widening
            vals = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            vals = raw
        out[name] = vals.astype(np.float64).reshape(shape)  # exact
    return out, meta
