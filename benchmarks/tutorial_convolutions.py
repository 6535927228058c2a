"""JAX's "Generalized convolutions" tutorial (docs/notebooks/convolutions), cell by cell,
through the engine (``import engine as jax``) and through real JAX, comparing every
printed line and every array the tutorial computes or plots.

The tutorial's photograph (scipy.datasets.face, a download) is replaced by a synthetic
grayscale image; plots are replaced by comparing the arrays they would show.

    .venv/bin/python benchmarks/tutorial_convolutions.py      # exit status 0 when all match
"""

from __future__ import annotations

import importlib
import sys

import numpy as np


def _modules(name):
    """(jax, jnp, jax.scipy, lax, random) of ``engine`` or of real ``jax``."""
    jax = importlib.import_module(name)
    jnp = importlib.import_module(f"{name}.numpy")
    jsp = importlib.import_module(f"{name}.scipy")
    importlib.import_module(f"{name}.scipy.signal")
    importlib.import_module(f"{name}.scipy.stats")
    return (
        jax,
        jnp,
        jsp,
        importlib.import_module(f"{name}.lax"),
        importlib.import_module(f"{name}.random"),
    )


def synthetic_face(h=96, w=128):
    """A deterministic grayscale image in [0, 255] standing in for the raccoon photo."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = (
        128
        + 60 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
        + 40 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < 900)
    )
    return img.astype(np.float32)


def run(name):
    """Every cell's outputs: (label, printed text or array) in order."""
    jax, jnp, jsp, lax, random = _modules(name)
    out = []
    emit = lambda label, v: out.append((label, v))  # noqa: E731

    # -- basic one-dimensional convolution: smoothing a noisy sine
    key = random.key(1701)
    x = jnp.linspace(0, 10, 500)
    y = jnp.sin(x) + 0.2 * random.normal(key, shape=(500,))
    window = jnp.ones(10) / 10
    y_smooth = jnp.convolve(y, window, mode="same")
    emit("1d noisy signal", y)
    emit("1d smoothed", y_smooth)

    # -- basic N-dimensional convolution: a Gaussian filter on a noisy image
    image = jnp.array(synthetic_face())
    key = random.key(1701)
    noisy_image = image + 50 * random.normal(key, image.shape)
    x = jnp.linspace(-3, 3, 7)
    window = jsp.stats.norm.pdf(x) * jsp.stats.norm.pdf(x[:, None])
    smooth_image = jsp.signal.convolve(noisy_image, window, mode="same")
    emit("noisy image", noisy_image)
    emit("gaussian window", window)
    emit("smoothed image", smooth_image)

    # -- general convolutions: an edge kernel (HWIO) and a synthetic NHWC image
    kernel = jnp.zeros((3, 3, 3, 3), dtype=jnp.float32)
    kernel += jnp.array([[1, 1, 0], [1, 0, -1], [0, -1, -1]])[:, :, jnp.newaxis, jnp.newaxis]
    emit("print: Edge Conv kernel:", "Edge Conv kernel:")
    emit("kernel[:, :, 0, 0]", kernel[:, :, 0, 0])
    img = jnp.zeros((1, 200, 198, 3), dtype=jnp.float32)
    for k in range(3):
        x = 30 + 60 * k
        y = 20 + 60 * k
        img = img.at[0, x : x + 10, y : y + 10, k].set(1.0)
    emit("img[0]", img[0])

    # lax.conv and lax.conv_with_general_padding (NCHW / OIHW)
    out_ = lax.conv(
        jnp.transpose(img, [0, 3, 1, 2]), jnp.transpose(kernel, [3, 2, 0, 1]), (1, 1), "SAME"
    )
    emit("print: lax.conv shape", f"out shape:  {out_.shape}")
    emit("lax.conv channel 0", np.array(out_)[0, 0, :, :])
    out_ = lax.conv_with_general_padding(
        jnp.transpose(img, [0, 3, 1, 2]),
        jnp.transpose(kernel, [3, 2, 0, 1]),
        (1, 1),
        ((2, 2), (2, 2)),
        (1, 1),
        (1, 1),
    )
    emit("print: general padding shape", f"out shape:  {out_.shape}")
    emit("general padding channel 0", np.array(out_)[0, 0, :, :])

    # dimension numbers
    dn = lax.conv_dimension_numbers(img.shape, kernel.shape, ("NHWC", "HWIO", "NHWC"))
    emit("print: dn", str(dn))

    def conv_cell(label, strides, padding, lhs_dil, rhs_dil, rhs=kernel):
        o = lax.conv_general_dilated(img, rhs, strides, padding, lhs_dil, rhs_dil, dn)
        emit(f"print: {label} shape", f"out shape:  {o.shape}")
        emit(f"{label} channel 0", np.array(o)[0, :, :, 0])

    conv_cell("SAME, no stride", (1, 1), "SAME", (1, 1), (1, 1))
    conv_cell("VALID, no stride", (1, 1), "VALID", (1, 1), (1, 1))
    conv_cell("SAME, stride 2", (2, 2), "SAME", (1, 1), (1, 1))
    conv_cell("VALID, atrous", (1, 1), "VALID", (1, 1), (12, 12))
    conv_cell("VALID, lhs dilation", (1, 1), ((0, 0), (0, 0)), (2, 2), (1, 1))
    kernel_rot = jnp.rot90(jnp.rot90(kernel, axes=(0, 1)), axes=(0, 1))
    conv_cell("transposed conv", (1, 1), ((2, 1), (2, 1)), (2, 2), (1, 1), rhs=kernel_rot)

    # 1D convolutions (NWC / WIO)
    kernel = jnp.array(
        [[[1, 0, -1], [-1, 0, 1]], [[1, 1, 1], [-1, -1, -1]]], dtype=jnp.float32
    ).transpose([2, 1, 0])
    data = np.zeros((1, 200, 2), dtype=jnp.float32)
    for i in range(2):
        for k in range(2):
            x = 35 * i + 30 + 60 * k
            data[0, x : x + 30, k] = 1.0
    emit("print: 1d in shapes", f"in shapes: {data.shape} {kernel.shape}")
    dn = lax.conv_dimension_numbers(data.shape, kernel.shape, ("NWC", "WIO", "NWC"))
    emit("print: 1d dn", str(dn))
    o = lax.conv_general_dilated(data, kernel, (1,), "SAME", (1,), (1,), dn)
    emit("print: 1d out shape", f"out shape:  {o.shape}")
    emit("1d out[0]", o[0])

    # 3D convolutions (NHWDC / HWDIO)
    kernel = jnp.array(
        [
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
            [[0, -1, 0], [-1, 0, -1], [0, -1, 0]],
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        ],
        dtype=jnp.float32,
    )[:, :, :, jnp.newaxis, jnp.newaxis]
    data = jnp.zeros((1, 30, 30, 30, 1), dtype=jnp.float32)
    x, y, z = np.mgrid[0:1:30j, 0:1:30j, 0:1:30j]
    data += (jnp.sin(2 * x * jnp.pi) * jnp.cos(2 * y * jnp.pi) * jnp.cos(2 * z * jnp.pi))[
        None, :, :, :, None
    ]
    emit("print: 3d in shapes", f"in shapes: {data.shape} {kernel.shape}")
    dn = lax.conv_dimension_numbers(data.shape, kernel.shape, ("NHWDC", "HWDIO", "NHWDC"))
    emit("print: 3d dn", str(dn))
    o = lax.conv_general_dilated(data, kernel, (1, 1, 1), "SAME", (1, 1, 1), (1, 1, 1), dn)
    emit("print: 3d out shape", f"out shape:  {o.shape}")
    emit("3d input (plotted)", data.ravel())
    emit("3d output (plotted)", o.ravel())
    return out


def compare(rtol=1e-5, atol=1e-5):
    """Run both; returns (number of outputs compared, list of mismatch descriptions)."""
    ours, theirs = run("engine"), run("jax")
    problems = []
    for (label, a), (label_j, b) in zip(ours, theirs):
        assert label == label_j
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                problems.append(f"{label}: engine printed {a!r}, JAX printed {b!r}")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{label}: engine {a.dtype}{a.shape} vs JAX {b.dtype}{b.shape}")
        elif not np.allclose(a, b, rtol=rtol, atol=atol):
            problems.append(f"{label}: max abs difference {np.abs(a - b).max():.3g}")
    if len(ours) != len(theirs):
        problems.append(f"engine produced {len(ours)} outputs, JAX {len(theirs)}")
    return len(ours), problems


def main():
    n, problems = compare()
    for p in problems:
        print("MISMATCH", p)
    print(f"convolutions tutorial: {n - len(problems)}/{n} outputs match JAX")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
