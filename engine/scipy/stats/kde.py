"""Gaussian kernel density estimation (``jax.scipy.stats.gaussian_kde``)."""

from __future__ import annotations

import numpy as np

from ... import api, dtypes, random, tree_util
from ... import numpy as jnp
from ...numpy._util import as_array, check_arraylike, promote_dtypes_inexact
from .. import linalg, special


class gaussian_kde:  # noqa: N801 - JAX's (and SciPy's) name
    """A Gaussian KDE of ``dataset`` (d x n; a 1-D array is one dimension), with the
    bandwidth by Scott's or Silverman's rule, a scalar factor, or a callable; optional
    ``weights``. A pytree, so it passes through jit and vmap."""

    __slots__ = ("neff", "dataset", "weights", "covariance", "inv_cov")

    def __init__(self, dataset, bw_method=None, weights=None):
        check_arraylike("gaussian_kde", dataset)
        dataset = jnp.atleast_2d(dataset)
        if dtypes.is_complex(dataset.dtype):
            raise NotImplementedError("gaussian_kde does not support complex data")
        if not dataset.size > 1:
            raise ValueError("`dataset` input should have multiple elements.")
        d, n = dataset.shape
        if weights is not None:
            check_arraylike("gaussian_kde", weights)
            dataset, weights = (as_array(v) for v in promote_dtypes_inexact(dataset, weights))
            weights = jnp.atleast_1d(weights)
            weights = weights / jnp.sum(weights)
            if weights.ndim != 1:
                raise ValueError("`weights` input should be one-dimensional.")
            if len(weights) != n:
                raise ValueError("`weights` input should be of length n")
        else:
            (dataset,) = (as_array(v) for v in promote_dtypes_inexact(dataset))
            weights = jnp.full(n, 1.0 / n, dtype=dataset.dtype)
        self._set("dataset", dataset)
        self._set("weights", weights)
        neff = self._set("neff", 1 / jnp.sum(weights**2))
        bw_method = "scott" if bw_method is None else bw_method
        if isinstance(bw_method, str) and bw_method == "scott":
            factor = jnp.power(neff, -1.0 / (d + 4))
        elif isinstance(bw_method, str) and bw_method == "silverman":
            factor = jnp.power(neff * (d + 2) / 4.0, -1.0 / (d + 4))
        elif jnp.isscalar(bw_method) and not isinstance(bw_method, str):
            factor = bw_method
        elif callable(bw_method):
            factor = bw_method(self)
        else:
            raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a callable.")
        cov = jnp.atleast_2d(_weighted_cov(dataset, weights))
        self._set("covariance", cov * factor**2)
        self._set("inv_cov", jnp.linalg.inv(cov) / factor**2)

    def _set(self, name, value):
        object.__setattr__(self, name, value)
        return value

    @property
    def d(self):
        return self.dataset.shape[0]

    @property
    def n(self):
        return self.dataset.shape[1]

    def evaluate(self, points):
        check_arraylike("evaluate", points)
        points = self._as_points(points)
        out = _kernel_sum(False, self.dataset.T, self.weights[:, None], points.T, self.inv_cov)
        return out[:, 0]

    __call__ = evaluate
    pdf = evaluate

    def logpdf(self, x):
        check_arraylike("logpdf", x)
        x = self._as_points(x)
        out = _kernel_sum(True, self.dataset.T, self.weights[:, None], x.T, self.inv_cov)
        return out[:, 0]

    def integrate_gaussian(self, mean, cov):
        mean = jnp.atleast_1d(jnp.squeeze(mean))
        cov = jnp.atleast_2d(cov)
        if mean.shape != (self.d,):
            raise ValueError(f"mean does not have dimension {self.d}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"covariance does not have dimension {self.d}")
        chol = linalg.cho_factor(self.covariance + cov)
        norm = 1.0 / (jnp.sqrt(2 * np.pi) ** self.d * jnp.prod(jnp.diag(chol[0])))
        return _kernel_convolve(chol, norm, self.dataset, self.weights, mean)

    def integrate_box_1d(self, low, high):
        if self.d != 1:
            raise ValueError("integrate_box_1d() only handles 1D pdfs")
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError("the limits of integration in integrate_box_1d must be scalars")
        sigma = jnp.squeeze(jnp.sqrt(self.covariance))
        lo = jnp.squeeze((low - self.dataset) / sigma)
        hi = jnp.squeeze((high - self.dataset) / sigma)
        return jnp.sum(self.weights * (special.ndtr(hi) - special.ndtr(lo)))

    def integrate_kde(self, other):
        if other.d != self.d:
            raise ValueError("KDEs are not the same dimensionality")
        chol = linalg.cho_factor(self.covariance + other.covariance)
        norm = 1.0 / (jnp.sqrt(2 * np.pi) ** self.d * jnp.prod(jnp.diag(chol[0])))
        small, large = (self, other) if self.n < other.n else (other, self)
        per_point = api.vmap(
            lambda m: _kernel_convolve(chol, norm, large.dataset, large.weights, m), in_axes=1
        )(small.dataset)
        return jnp.sum(per_point * small.weights)

    def resample(self, key, shape=()):
        ind_key, eps_key = random.split(key)
        ind = random.choice(ind_key, self.n, shape=shape, p=self.weights)
        zero = jnp.zeros(self.d, self.covariance.dtype)
        eps = random.multivariate_normal(
            eps_key, zero, self.covariance, shape=shape, dtype=self.dataset.dtype
        ).T
        return self.dataset[:, ind] + eps

    def integrate_box(self, low_bounds, high_bounds, maxpts=None):
        raise NotImplementedError("only 1D box integrations are supported; use `integrate_box_1d`")

    def set_bandwidth(self, bw_method=None):
        raise NotImplementedError("dynamically changing the bandwidth method is not supported")

    def _as_points(self, points):
        points = jnp.atleast_2d(points)
        if dtypes.is_complex(points.dtype):
            raise NotImplementedError("gaussian_kde does not support complex coordinates")
        d, m = points.shape
        if d != self.d:
            if d == 1 and m == self.d:
                return jnp.reshape(points, (self.d, 1))
            raise ValueError(f"points have dimension {d}, dataset has dimension {self.d}")
        return points


def _weighted_cov(x, w):
    """NumPy's ``cov(x, aweights=w)`` (rows are variables, ddof 1)."""
    v1 = jnp.sum(w)
    mean = jnp.sum(x * w, axis=1, keepdims=True) / v1
    centered = x - mean
    fact = v1 - jnp.sum(w * w) / v1
    return jnp.dot(centered * w, centered.T) / fact


def _flatten(kde):
    return (kde.neff, kde.dataset, kde.weights, kde.covariance, kde.inv_cov), None


def _unflatten(aux, children):
    kde = gaussian_kde.__new__(gaussian_kde)
    for name, value in zip(("neff", "dataset", "weights", "covariance", "inv_cov"), children):
        kde._set(name, value)
    return kde


tree_util.register_pytree_node(gaussian_kde, _flatten, _unflatten)


def _kernel_convolve(chol, norm, target, weights, mean):
    diff = target - mean[:, None]
    alpha = linalg.cho_solve(chol, diff)
    return norm * jnp.sum(jnp.exp(-0.5 * jnp.sum(diff * alpha, axis=0)) * weights)


def _kernel_sum(in_log, points, values, xi, precision):
    """sum_j values_j N(xi; points_j, precision^-1), or its log, at each row of xi."""
    points, values, xi, precision = (
        as_array(v) for v in promote_dtypes_inexact(points, values, xi, precision)
    )
    d = points.shape[1]
    if xi.shape[1] != d:
        raise ValueError("points and xi must have same trailing dim")
    if precision.shape != (d, d):
        raise ValueError("precision matrix must match data dims")
    whitening = linalg.cholesky(precision, lower=True)
    points = jnp.dot(points, whitening)
    xi = jnp.dot(xi, whitening)
    log_norm = jnp.sum(jnp.log(jnp.diag(whitening))) - 0.5 * d * jnp.log(2 * np.pi)

    def kernel(x_test, x_train, y_train):
        arg = log_norm - 0.5 * jnp.sum(jnp.square(x_train - x_test))
        return jnp.log(y_train) + arg if in_log else y_train * jnp.exp(arg)

    reduce = special.logsumexp if in_log else jnp.sum

    def at(x):
        return reduce(api.vmap(kernel, in_axes=(None, 0, 0))(x, points, values), axis=0)

    return api.vmap(at)(xi)
