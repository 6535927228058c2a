"""JAX's two MNIST example programs (``examples/mnist_classifier.py`` with stax and
optimizers, ``examples/mnist_classifier_fromscratch.py`` with plain jnp), rewritten here
as functions of the library they run on, so that the same program text runs once with
``import engine as jax`` and once on real JAX. A small synthetic dataset stands in for
the MNIST download and the layers are narrower, so 20 steps stay quick; the losses must
agree step for step."""

import importlib
import itertools
import types

import numpy as np
import numpy.random as npr
import pytest

pytest.importorskip("jax")

STEPS = 20
NUM_TRAIN, NUM_PIXELS, NUM_CLASSES, BATCH = 96, 49, 10, 32


def _library(name):
    """The modules a program imports, from ``jax`` or from ``engine``."""
    ns = types.SimpleNamespace()
    root = importlib.import_module(name)
    ns.jit, ns.grad, ns.random = root.jit, root.grad, importlib.import_module(f"{name}.random")
    ns.jnp = importlib.import_module(f"{name}.numpy")
    ns.optimizers = importlib.import_module(f"{name}.example_libraries.optimizers")
    ns.stax = importlib.import_module(f"{name}.example_libraries.stax")
    try:
        ns.logsumexp = importlib.import_module(f"{name}.scipy.special").logsumexp
    except ImportError:  # jax.scipy.special.logsumexp is jax.nn.logsumexp
        ns.logsumexp = importlib.import_module(f"{name}.nn").logsumexp
    return ns


def _synthetic_mnist():
    """Images in [0, 1] whose class is readable from a fixed linear map; one-hot labels."""
    rng = npr.RandomState(42)
    images = rng.rand(NUM_TRAIN, NUM_PIXELS).astype(np.float32)
    proj = rng.randn(NUM_PIXELS, NUM_CLASSES).astype(np.float32)
    labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.argmax(images @ proj, axis=1)]
    return images, labels


def _data_stream(train_images, train_labels, batch_size):
    num_train = train_images.shape[0]
    num_complete_batches, leftover = divmod(num_train, batch_size)
    num_batches = num_complete_batches + bool(leftover)
    rng = npr.RandomState(0)
    while True:
        perm = rng.permutation(num_train)
        for i in range(num_batches):
            batch_idx = perm[i * batch_size : (i + 1) * batch_size]
            yield train_images[batch_idx], train_labels[batch_idx]


def mnist_classifier(lib):
    """examples/mnist_classifier.py: stax MLP, momentum, jitted update; returns the
    training loss before each of the 20 steps and the final accuracy."""
    jnp, stax, optimizers, random = lib.jnp, lib.stax, lib.optimizers, lib.random
    Dense, Relu, LogSoftmax = stax.Dense, stax.Relu, stax.LogSoftmax  # noqa: N806

    init_random_params, predict = stax.serial(
        Dense(64), Relu, Dense(64), Relu, Dense(NUM_CLASSES), LogSoftmax
    )

    def loss(params, batch):
        inputs, targets = batch
        preds = predict(params, inputs)
        return -jnp.mean(jnp.sum(preds * targets, axis=1))

    def accuracy(params, batch):
        inputs, targets = batch
        target_class = jnp.argmax(targets, axis=1)
        predicted_class = jnp.argmax(predict(params, inputs), axis=1)
        return jnp.mean(predicted_class == target_class)

    rng = random.key(0)
    step_size, momentum_mass = 0.05, 0.9
    train_images, train_labels = _synthetic_mnist()
    batches = _data_stream(train_images, train_labels, BATCH)
    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=momentum_mass)

    @lib.jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        return opt_update(i, lib.grad(loss)(params, batch), opt_state)

    _, init_params = init_random_params(rng, (-1, NUM_PIXELS))
    opt_state = opt_init(init_params)
    itercount = itertools.count()
    losses = []
    for _ in range(STEPS):
        batch = next(batches)
        losses.append(float(loss(get_params(opt_state), batch)))
        opt_state = update(next(itercount), opt_state, batch)
    params = get_params(opt_state)
    return np.array(losses), float(accuracy(params, (train_images, train_labels))), params


def mnist_classifier_fromscratch(lib):
    """examples/mnist_classifier_fromscratch.py: tanh MLP from NumPy-initialized
    weights, log-softmax through logsumexp, plain SGD in a jitted update."""
    jnp, logsumexp = lib.jnp, lib.logsumexp

    def init_random_params(scale, layer_sizes, rng=None):
        rng = rng or npr.RandomState(0)
        return [
            (scale * rng.randn(m, n), scale * rng.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
        ]

    def predict(params, inputs):
        activations = inputs
        for w, b in params[:-1]:
            outputs = jnp.dot(activations, w) + b
            activations = jnp.tanh(outputs)
        final_w, final_b = params[-1]
        logits = jnp.dot(activations, final_w) + final_b
        return logits - logsumexp(logits, axis=1, keepdims=True)

    def loss(params, batch):
        inputs, targets = batch
        preds = predict(params, inputs)
        return -jnp.mean(jnp.sum(preds * targets, axis=1))

    def accuracy(params, batch):
        inputs, targets = batch
        target_class = jnp.argmax(targets, axis=1)
        predicted_class = jnp.argmax(predict(params, inputs), axis=1)
        return jnp.mean(predicted_class == target_class)

    layer_sizes = [NUM_PIXELS, 64, 64, NUM_CLASSES]
    param_scale, step_size = 0.1, 0.05
    train_images, train_labels = _synthetic_mnist()
    batches = _data_stream(train_images, train_labels, BATCH)

    @lib.jit
    def update(params, batch):
        grads = lib.grad(loss)(params, batch)
        return [(w - step_size * dw, b - step_size * db) for (w, b), (dw, db) in zip(params, grads)]

    params = init_random_params(param_scale, layer_sizes)
    losses = []
    for _ in range(STEPS):
        batch = next(batches)
        losses.append(float(loss(params, batch)))
        params = update(params, batch)
    return np.array(losses), float(accuracy(params, (train_images, train_labels))), params


@pytest.mark.parametrize("program", [mnist_classifier, mnist_classifier_fromscratch])
def test_losses_match_jax_step_for_step(program):
    losses_e, acc_e, params_e = program(_library("engine"))
    losses_j, acc_j, params_j = program(_library("jax"))
    assert len(losses_e) == STEPS
    np.testing.assert_allclose(losses_e, losses_j, rtol=1e-6, atol=0)
    assert losses_e[-1] < losses_e[0]  # it learns
    # the eager mean of a boolean divides by the count in NumPy here and in XLA in JAX,
    # which may round the last bit differently
    assert acc_e == pytest.approx(acc_j, abs=1e-6)
    import jax

    for a, b in zip(jax.tree.leaves(params_e), jax.tree.leaves(params_j)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
