#!/usr/bin/env python3
"""Writes the Keras HDF5 fixtures of test/plugins/io/keras-h5.test.ts.

Neither Keras nor TensorFlow is needed (nor installed here): the files are
written with h5py alone, in the layout Keras 2.x's `model.save("m.h5")`
produces (keras/saving/legacy/hdf5_format.py in Keras 2.11):

  /                      attrs keras_version, backend (str), model_config
                         (and training_config) as UTF-8 JSON bytes
  /model_weights         attrs layer_names (array of fixed-length bytes),
                         backend, keras_version (bytes)
  /model_weights/<layer> attr weight_names, e.g. [b"dense/kernel:0", ...],
                         each a float32 dataset at <layer>/<weight name>
                         (so /model_weights/dense/dense/kernel:0)
  /model_weights/top_level_model_weights   an empty weight_names
  /optimizer_weights     only when the model was compiled (ignored by slimlab)

`model.save_weights("w.h5")` puts layer_names and the layer groups at the
root and writes no model_config.

Weights come from a seeded numpy generator, and the expected outputs for a
fixed input are computed here in float64 numpy; expected.json keeps them
with a SHA-256 of each weight's float32 bytes, so the test can check that
the loaded model holds exactly the file's numbers.

Run with Debian's python3-h5py (the files are committed; tests do not run
this):  /usr/bin/python3 scripts/make-keras-h5.py
"""
import hashlib
import json
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "keras")
KERAS_VERSION = "2.11.0"
rng = np.random.default_rng(20240611)


# --- Layer configs, as Keras 2.11's get_config() emits them -------------------------------

def init(name, **config):
    return {"class_name": name, "config": config}


def dense(name, units, activation, batch_input_shape=None):
    config = {"name": name, "trainable": True}
    if batch_input_shape is not None:
        config["batch_input_shape"] = batch_input_shape
    config.update({
        "dtype": "float32", "units": units, "activation": activation, "use_bias": True,
        "kernel_initializer": init("GlorotUniform", seed=None), "bias_initializer": init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
    })
    return {"class_name": "Dense", "config": config}


def input_layer(name, batch_input_shape):
    return {"class_name": "InputLayer", "config": {
        "batch_input_shape": batch_input_shape, "dtype": "float32", "sparse": False, "ragged": False, "name": name}}


def conv2d(name, filters, activation):
    return {"class_name": "Conv2D", "config": {
        "name": name, "trainable": True, "dtype": "float32", "filters": filters, "kernel_size": [3, 3],
        "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
        "groups": 1, "activation": activation, "use_bias": True,
        "kernel_initializer": init("GlorotUniform", seed=None), "bias_initializer": init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}}


def batch_norm(name, axis):
    # Keras stores the axis as a list once the layer is built.
    return {"class_name": "BatchNormalization", "config": {
        "name": name, "trainable": True, "dtype": "float32", "axis": [axis], "momentum": 0.99,
        "epsilon": 0.001, "center": True, "scale": True,
        "beta_initializer": init("Zeros"), "gamma_initializer": init("Ones"),
        "moving_mean_initializer": init("Zeros"), "moving_variance_initializer": init("Ones"),
        "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}}


def max_pool(name):
    return {"class_name": "MaxPooling2D", "config": {
        "name": name, "trainable": True, "dtype": "float32", "pool_size": [2, 2], "padding": "valid",
        "strides": [2, 2], "data_format": "channels_last"}}


def flatten(name):
    return {"class_name": "Flatten", "config": {"name": name, "trainable": True, "dtype": "float32", "data_format": "channels_last"}}


def node(layer, *inbound):
    """A Functional model's layer entry: its config plus where its inputs come from."""
    return dict(layer, name=layer["config"]["name"], inbound_nodes=[[[src, index, 0, {}] for src, index in inbound]] if inbound else [])


def functional(name, layers, inputs, outputs):
    return {"class_name": "Functional", "config": {
        "name": name, "layers": layers, "input_layers": [[n, 0, 0] for n in inputs], "output_layers": [[n, 0, 0] for n in outputs]}}


# --- Writing, the way hdf5_format.py does ---------------------------------------------------

def to_json_bytes(value):
    return json.dumps(value).encode("utf8")


def save_weights_group(group, layers):
    """layers: [(layer name, [(weight name, float32 array), ...])] in model.layers order."""
    group.attrs["layer_names"] = [name.encode("utf8") for name, _ in layers]
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    for name, weights in sorted(layers, key=lambda layer: layer[0]):
        g = group.create_group(name)
        g.attrs["weight_names"] = [w.encode("utf8") for w, _ in weights]
        for w, value in weights:
            g.create_dataset(w.encode("utf8"), value.shape, dtype=value.dtype)[...] = value
    group.create_group("top_level_model_weights").attrs["weight_names"] = []


def save_model(path, config, layers, training_config=None, optimizer=None):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = to_json_bytes(config)
        if training_config is not None:
            f.attrs["training_config"] = to_json_bytes(training_config)
        save_weights_group(f.create_group("model_weights"), layers)
        if optimizer:
            g = f.create_group("optimizer_weights")
            g.attrs["weight_names"] = [w.encode("utf8") for w, _ in optimizer]
            for w, value in optimizer:
                g.create_dataset(w.encode("utf8"), data=value)


def glorot(*shape):
    receptive = int(np.prod(shape[:-2]))  # 1 for a Dense kernel, kh * kw for a Conv2D one
    limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def small(*shape):
    return (rng.standard_normal(shape) * 0.1).astype(np.float32)


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def relu(z):
    return np.maximum(z, 0)


def f64(a):
    return a.astype(np.float64)


def expected_entry(layers, x, y):
    return {
        "weights": {w: {"shape": list(v.shape), "sha256": digest(v)} for _, ws in layers for w, v in ws},
        "input": {"shape": list(x.shape), "values": [float(v) for v in x.ravel()]},
        "output": {"shape": list(y.shape), "values": [float(v) for v in y.ravel()]},
    }


# --- 1. Sequential MLP 784 -> 32 relu -> 10 softmax ------------------------------------------

def mlp():
    k1, b1, k2, b2 = glorot(784, 32), small(32), glorot(32, 10), small(10)
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        input_layer("dense_input", [None, 784]),
        dense("dense", 32, "relu", batch_input_shape=[None, 784]),
        dense("dense_1", 10, "softmax")]}}
    layers = [("dense", [("dense/kernel:0", k1), ("dense/bias:0", b1)]),
              ("dense_1", [("dense_1/kernel:0", k2), ("dense_1/bias:0", b2)])]
    save_model(os.path.join(OUT, "mlp.h5"), config, layers)
    x = rng.uniform(0, 1, (3, 784)).astype(np.float32)
    y = softmax(relu(f64(x) @ f64(k1) + f64(b1)) @ f64(k2) + f64(b2))
    return expected_entry(layers, x, y)


# --- 2. Functional CNN: Conv2D + BatchNormalization + MaxPooling2D + Flatten + Dense ----------

def conv_valid(x, k, b):
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, co))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            out[:, i, j, :] = np.tensordot(x[:, i:i + kh, j:j + kw, :], k, axes=([1, 2, 3], [0, 1, 2]))
    return out + b


def cnn():
    k, b = glorot(3, 3, 2, 4), small(4)
    gamma = (1 + rng.standard_normal(4) * 0.2).astype(np.float32)
    beta = small(4)
    mean = small(4)
    var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    dk, db = glorot(36, 5), small(5)
    config = functional("model", [
        node(input_layer("input_1", [None, 8, 8, 2])),
        node(conv2d("conv2d", 4, "relu"), ("input_1", 0)),
        node(batch_norm("batch_normalization", 3), ("conv2d", 0)),
        node(max_pool("max_pooling2d"), ("batch_normalization", 0)),
        node(flatten("flatten"), ("max_pooling2d", 0)),
        node(dense("dense", 5, "softmax"), ("flatten", 0)),
    ], ["input_1"], ["dense"])
    layers = [
        ("input_1", []),
        ("conv2d", [("conv2d/kernel:0", k), ("conv2d/bias:0", b)]),
        ("batch_normalization", [("batch_normalization/gamma:0", gamma), ("batch_normalization/beta:0", beta),
                                 ("batch_normalization/moving_mean:0", mean), ("batch_normalization/moving_variance:0", var)]),
        ("max_pooling2d", []),
        ("flatten", []),
        ("dense", [("dense/kernel:0", dk), ("dense/bias:0", db)]),
    ]
    training = {"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
        "name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]], "weighted_metrics": None,
        "loss_weights": None, "optimizer_config": {"class_name": "Adam", "config": {
            "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
    optimizer = [("Adam/iter:0", np.int64(7)), ("Adam/dense/bias/m:0", small(5))]
    save_model(os.path.join(OUT, "cnn.h5"), config, layers, training, optimizer)
    x = rng.uniform(0, 1, (2, 8, 8, 2)).astype(np.float32)
    z = relu(conv_valid(f64(x), f64(k), f64(b)))
    z = f64(gamma) * (z - f64(mean)) / np.sqrt(f64(var) + 0.001) + f64(beta)
    z = z.reshape(2, 3, 2, 3, 2, 4).max(axis=(2, 4))  # 2x2 max pooling of 6x6
    y = softmax(z.reshape(2, -1) @ f64(dk) + f64(db))
    return expected_entry(layers, x, y)


# --- 3. A Sequential nested in a Functional model ---------------------------------------------

def nested():
    hk, hb, ok, ob = glorot(6, 5), small(5), glorot(5, 3), small(3)
    body = {"class_name": "Sequential", "config": {"name": "body", "layers": [
        input_layer("body_input", [None, 6]), dense("hidden", 5, "tanh", batch_input_shape=[None, 6])]}}
    # Node 0 of a nested model is its own construction: the outer call is node 1.
    config = functional("outer", [
        node(input_layer("features", [None, 6])),
        node(body, ("features", 0)),
        node(dense("head", 3, "linear"), ("body", 1)),
    ], ["features"], ["head"])
    layers = [("features", []),
              ("body", [("hidden/kernel:0", hk), ("hidden/bias:0", hb)]),
              ("head", [("head/kernel:0", ok), ("head/bias:0", ob)])]
    save_model(os.path.join(OUT, "nested.h5"), config, layers)
    x = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
    y = np.tanh(f64(x) @ f64(hk) + f64(hb)) @ f64(ok) + f64(ob)
    return expected_entry(layers, x, y)


# --- Files that must be refused -------------------------------------------------------------

def refused():
    k, b = glorot(4, 2), small(2)
    one = [("dense", [("dense/kernel:0", k), ("dense/bias:0", b)])]
    tiny = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        input_layer("dense_input", [None, 4]), dense("dense", 2, "linear", batch_input_shape=[None, 4])]}}
    # model.save_weights("w.h5"): the weights group is the file's root, and there is no topology.
    with h5py.File(os.path.join(OUT, "weights-only.h5"), "w") as f:
        save_weights_group(f, one)
    # A layer class tfjs does not have (a custom layer in Python).
    custom = json.loads(json.dumps(tiny))
    custom["config"]["layers"][1]["class_name"] = "CustomAttention"
    save_model(os.path.join(OUT, "unknown-layer.h5"), custom, one)
    # The config says 3 units but the saved kernel has 2 columns.
    wide = json.loads(json.dumps(tiny))
    wide["config"]["layers"][1]["config"]["units"] = 3
    save_model(os.path.join(OUT, "shape-mismatch.h5"), wide, one)
    # keras_version 3.x: Keras 3's legacy .h5 writer, whose configs tfjs does not read (refused by version).
    with h5py.File(os.path.join(OUT, "keras3.h5"), "w") as f:
        f.attrs["keras_version"] = "3.3.3"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = to_json_bytes(tiny)
        save_weights_group(f.create_group("model_weights"), one)
    # HDF5, but not from Keras.
    with h5py.File(os.path.join(OUT, "not-keras.h5"), "w") as f:
        f.create_dataset("x", data=np.arange(4, dtype=np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {"mlp.h5": mlp(), "cnn.h5": cnn(), "nested.h5": nested()}
    refused()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"note": "written by scripts/make-keras-h5.py; outputs computed in float64 numpy", "files": expected}, f)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
