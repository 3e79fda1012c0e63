#!/usr/bin/env python3
"""Writes the seeds of the ONNX reader's fuzzing corpus (docs/FUZZING.md) and
what the onnx package reads back from them.

The models are built with the onnx package (its helper functions and its
protobuf serialiser), saved to tests/fuzz/corpus/onnx/, then loaded again
with onnx.load and described in tests/fuzz/onnx_seeds.json: names, types,
dims, attribute values and tensor elements as onnx sees them. The unit test
onnx_seeds_match_onnx (tests/unit/test_onnx_pb.c) parses the committed
files with sfgen's own reader and compares with that description, so the
reader is checked against an independent implementation of the format
without the onnx package at test time.

Needs onnx and numpy (a virtual environment will do):

    python3 -m venv --system-site-packages /tmp/onnxvenv
    /tmp/onnxvenv/bin/pip install onnx 'numpy<2'
    /tmp/onnxvenv/bin/python tests/fuzz/make_onnx_seeds.py

The committed seeds and JSON are its output; make test does not run it.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "onnx")
SIDECAR = os.path.join(HERE, "onnx_seeds.json")

IR = 8
OPSET = [helper.make_opsetid("", 13)]


def model(graph, opsets=OPSET, **kw):
    m = helper.make_model(graph, opset_imports=opsets, producer_name="sparseflow-seeds", **kw)
    m.ir_version = IR
    return m


def rng(seed):
    return np.random.default_rng(seed)


def conv_relu():
    w = rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
    w[:, :, 0, :] = 0  # some zeros, as pruned weights have
    b = rng(2).standard_normal(4).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "W", "B"], ["y"], name="conv0", pads=[1, 1, 1, 1],
                          strides=[1, 1], kernel_shape=[3, 3], dilations=[1, 1], group=1),
         helper.make_node("Relu", ["y"], ["z"], name="relu0")],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
        value_info=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])])
    return model(g)


def matmul_add():
    w = rng(3).standard_normal((8, 4)).astype(np.float32)
    # float_data (raw=False) for W, raw_data for b, int64_data for the shape
    W = helper.make_tensor("W", TensorProto.FLOAT, [8, 4], w.flatten().tolist())
    b = numpy_helper.from_array(rng(4).standard_normal(4).astype(np.float32), "b")
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [8])
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
         helper.make_node("Add", ["h", "b"], ["y"], name="add"),
         helper.make_node("Reshape", ["y", "shape"], ["out"], name="flat")],
        "matmul_add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [8]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [W, b, shape],
        value_info=[helper.make_tensor_value_info("h", TensorProto.FLOAT, [2, None])])
    return model(g)


def external():
    w = rng(5).standard_normal((16, 8)).astype(np.float32)
    b = rng(6).standard_normal(16).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc", transB=1, alpha=1.0,
                          beta=1.0)],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    return model(g)


def constant():
    c = numpy_helper.from_array(np.array([[1.5, -2.0], [0.0, 4.25]], np.float32), "c")
    nodes = [
        helper.make_node("Constant", [], ["c0"], name="const_tensor", value=c),
        helper.make_node("Constant", [], ["c1"], name="const_float", value_float=0.5),
        helper.make_node("Constant", [], ["c2"], name="const_floats", value_floats=[1.0, -1.0]),
        helper.make_node("Constant", [], ["c3"], name="const_int", value_int=-7),
        helper.make_node("Constant", [], ["c4"], name="const_ints", value_ints=[3, 1, 2]),
        helper.make_node("Constant", [], ["c5"], value_string="text"),
        helper.make_node("Add", ["x", "c0"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "constant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    return model(g)


def int_inits():
    """Every element type the reader decodes, from its typed field (int32_data,
    int64_data, double_data, uint64_data) and from raw_data."""
    T = TensorProto
    inits = [
        helper.make_tensor("i8", T.INT8, [4], [-128, -1, 0, 127]),
        helper.make_tensor("u8", T.UINT8, [4], [0, 1, 200, 255]),
        helper.make_tensor("i16", T.INT16, [2, 2], [-32768, -2, 3, 32767]),
        helper.make_tensor("u16", T.UINT16, [3], [0, 40000, 65535]),
        helper.make_tensor("i32", T.INT32, [3], [-2147483648, 5, 2147483647]),
        helper.make_tensor("b", T.BOOL, [3], [True, False, True]),
        helper.make_tensor("f16", T.FLOAT16, [3], np.array([1.0, -2.5, 65504.0], np.float16)),
        helper.make_tensor("bf16", T.BFLOAT16, [2], [1.0, -0.5]),
        helper.make_tensor("f64", T.DOUBLE, [2], [0.1, -1e300]),
        helper.make_tensor("u32", T.UINT32, [2], [0, 4000000000]),
        helper.make_tensor("u64", T.UINT64, [2], [1, 2 ** 52 + 3]),
        helper.make_tensor("i64", T.INT64, [2], [-(2 ** 52), 2 ** 40]),
        numpy_helper.from_array(np.array([-3, 9], np.int64), "i64_raw"),
        numpy_helper.from_array(np.array([1, -1], np.int8), "i8_raw"),
        numpy_helper.from_array(np.array(7.0, np.float32), "scalar"),
        numpy_helper.from_array(np.zeros((0, 3), np.float32), "empty"),
        helper.make_tensor("names", T.STRING, [2], [b"alpha", b"beta"]),
        numpy_helper.from_array(rng(7).standard_normal((5, 3)).astype(np.float32), "table"),
        numpy_helper.from_array(np.array([4, 0, 2], np.int64), "idx"),
    ]
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", T.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("si", T.INT64, [2], [0, 5]), [2, 3])
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "idx"], ["y"], name="gather", axis=0)],
        "int_inits", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 3])], inits,
        sparse_initializer=[sparse])
    return model(g)


def attrs():
    """Attributes of every type, graph attributes (If), a custom domain and a
    model-local function."""
    T = TensorProto
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["t"])], "then_branch", [],
        [helper.make_tensor_value_info("t", T.FLOAT, [2])])
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])], "else_branch", [],
        [helper.make_tensor_value_info("e", T.FLOAT, [2])])
    tensor = helper.make_tensor("attr_tensor", T.INT32, [2], [7, -8])
    custom = helper.make_node(
        "AllAttrs", ["x", "", "cond"], ["a", "b"], name="custom", domain="test.sparseflow",
        f=0.25, i=-123456789012, s="a string", t=tensor, g=then_g, floats=[0.5, -1.5, 3.0],
        ints=[1, -1, 2 ** 40], strings=["one", "", "three"])
    iff = helper.make_node("If", ["cond"], ["y"], name="if0", then_branch=then_g,
                           else_branch=else_g)
    fn = helper.make_function(
        "test.sparseflow", "Twice", ["v"], ["w"],
        [helper.make_node("Add", ["v", "v"], ["w"])], [helper.make_opsetid("", 13)])
    seq_in = helper.make_tensor_sequence_value_info("seq", T.FLOAT, [2])
    g = helper.make_graph(
        [custom, iff], "attrs",
        [helper.make_tensor_value_info("x", T.FLOAT, [2]),
         helper.make_tensor_value_info("cond", T.BOOL, []), seq_in],
        [helper.make_tensor_value_info("y", T.FLOAT, [2]),
         helper.make_tensor_value_info("a", T.FLOAT, None)])
    return model(g, [helper.make_opsetid("", 13), helper.make_opsetid("test.sparseflow", 1)],
                 functions=[fn])


SEEDS = {
    "conv_relu.onnx": conv_relu,
    "matmul_add.onnx": matmul_add,
    "external.onnx": external,
    "constant.onnx": constant,
    "int_inits.onnx": int_inits,
    "attrs.onnx": attrs,
}


# ---- what onnx reads back ---------------------------------------------------------

def tensor_desc(t):
    d = {"name": t.name, "data_type": t.data_type, "dims": list(t.dims)}
    if t.data_location == TensorProto.EXTERNAL:
        ext = {}
        for e in t.external_data:
            if e.key == "location":
                ext["location"] = e.value
            elif e.key in ("offset", "length"):
                ext[e.key] = int(e.value)
        d["external"] = ext
    elif t.data_type != TensorProto.STRING:
        a = numpy_helper.to_array(t)
        d["values"] = [float(v) for v in a.astype(np.float64).flatten()]
    return d


def attr_desc(a):
    A = onnx.AttributeProto
    d = {"name": a.name, "type": a.type}
    if a.type == A.FLOAT:
        d["value"] = a.f
    elif a.type == A.INT:
        d["value"] = a.i
    elif a.type == A.STRING:
        d["value"] = a.s.decode()
    elif a.type == A.TENSOR:
        d["value"] = tensor_desc(a.t)
    elif a.type == A.FLOATS:
        d["value"] = list(a.floats)
    elif a.type == A.INTS:
        d["value"] = list(a.ints)
    elif a.type == A.STRINGS:
        d["value"] = [s.decode() for s in a.strings]
    return d


KINDS = {"tensor_type": "tensor", "sparse_tensor_type": "sparse_tensor",
         "sequence_type": "sequence", "map_type": "map", "optional_type": "optional",
         "opaque_type": "opaque", None: ""}


def value_desc(v):
    which = v.type.WhichOneof("value")
    d = {"name": v.name, "kind": KINDS[which], "elem_type": 0, "dims": None}
    if which in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(v.type, which)
        d["elem_type"] = tt.elem_type
        if tt.HasField("shape"):
            d["dims"] = [dm.dim_value if dm.HasField("dim_value")
                         else dm.dim_param if dm.HasField("dim_param") else None
                         for dm in tt.shape.dim]
    return d


def model_desc(m):
    g = m.graph
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    return {
        "ir_version": m.ir_version,
        "producer_name": m.producer_name,
        "graph_name": g.name,
        "opset": opset[0] if opset else 0,
        "opset_import": [[o.domain, o.version] for o in m.opset_import],
        "functions": len(m.functions),
        "sparse_initializers": len(g.sparse_initializer),
        "nodes": [{"op_type": n.op_type, "name": n.name, "domain": n.domain,
                   "input": list(n.input), "output": list(n.output),
                   "attribute": [attr_desc(a) for a in n.attribute]} for n in g.node],
        "initializer": [tensor_desc(t) for t in g.initializer],
        "input": [value_desc(v) for v in g.input],
        "output": [value_desc(v) for v in g.output],
        "value_info": [value_desc(v) for v in g.value_info],
    }


def main(argv):
    os.makedirs(CORPUS, exist_ok=True)
    for name, make in SEEDS.items():
        path = os.path.join(CORPUS, name)
        m = make()
        if name == "external.onnx":
            onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location="external.data", size_threshold=0)
        else:
            onnx.save_model(m, path)
        if name not in ("attrs.onnx",):  # the custom domain is not the checker's
            onnx.checker.check_model(path)
    seeds = {}
    for name in SEEDS:
        seeds[name] = model_desc(onnx.load(os.path.join(CORPUS, name), load_external_data=False))
    doc = {"written_by": "tests/fuzz/make_onnx_seeds.py with onnx %s" % onnx.__version__,
           "seeds": seeds}
    with open(SIDECAR, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("make_onnx_seeds.py: %d seeds in %s, their description in %s"
          % (len(SEEDS), os.path.relpath(CORPUS), os.path.relpath(SIDECAR)))


if __name__ == "__main__":
    main(sys.argv[1:])
