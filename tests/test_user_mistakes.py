"""User mistakes: each raises the exception class JAX raises, with JAX's key phrase.

Every case is an expression run twice, once with the engine's modules bound to
``jax``/``jnp``/``lax`` and once with real JAX's; the test compares the exception class
(by name) and checks that both messages contain the phrase JAX users search for."""

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as ejnp
from engine import lax as elax

CASES = [
    # (expression, key phrase)
    ("jnp.array([1.0, None])", "None is not a valid value for jnp.array"),
    ("jnp.array(None)", "None is not a valid value for jnp.array"),
    ("jnp.array(i for i in range(3))", "is not a valid JAX array type"),
    ("lax.fori_loop(0, 2.5, lambda i, c: c + 1, 0)", "must have equal types"),
    (
        "lax.fori_loop(jnp.int16(0), jnp.int32(3), lambda i, c: c + 1, 0)",
        "must have equal types",
    ),
    ("lax.fori_loop(0, 3, 5, 0)", "body_fun argument should be callable"),
    # arrays no JAX array can hold (JAX: TypeError naming the argument)
    ("jnp.sin(np.array(['a']))", "Error interpreting argument to"),
    ("jnp.sin(np.array([object()]))", "Error interpreting argument to"),
    ("jnp.sin(np.array(['2020-01-01'], dtype='datetime64[D]'))", "Error interpreting argument to"),
    ("jnp.sin(np.array([1], dtype='timedelta64[s]'))", "Error interpreting argument to"),
    ("jnp.sin(np.zeros(2, dtype=[('a', 'f4'), ('b', 'i4')]))", "Error interpreting argument to"),
    ("jnp.add(np.array([b'a']), 1)", "Error interpreting argument to"),
    ("jax.jit(jnp.sin)(np.array(['a']))", "Error interpreting argument to"),
    ("jnp.array(np.array(['a']))", "Error interpreting argument to"),
    (
        "jnp.array(np.array(['2020-01-01'], dtype='datetime64[D]'))",
        "Error interpreting argument to",
    ),
    ("jnp.asarray(np.zeros(2, dtype=[('a', 'f4')]))", "Error interpreting argument to"),
    # a jitted function that calls itself with the same types (JAX: RecursionError)
    (
        "(lambda f: f.__setitem__(0, jax.jit(lambda x: f[0](x))) or f[0](1.0))([None])",
        "Recursively calling",
    ),
    # cond branches that disagree
    (
        "lax.cond(True, lambda x: x, lambda x: x.astype('int32'), 1.0)",
        "cond branches must have equal output types",
    ),
    (
        "lax.cond(True, lambda x: x, lambda x: jnp.stack([x, x]), 1.0)",
        "cond branches must have equal output types",
    ),
    (
        "lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)",
        "cond branch outputs must have the same pytree structure",
    ),
    ("lax.cond(jnp.array([True, False]), lambda: 1.0, lambda: 2.0)", "Pred must be a scalar"),
    ("lax.cond('a', lambda: 1.0, lambda: 2.0)", "Pred must be a scalar, got a of type"),
    ("lax.switch(0, [lambda: 1.0, lambda: 1])", "switch branches must have equal output types"),
    ("lax.switch(0.5, [lambda: 1.0, lambda: 2.0])", "Index type must be an integer"),
    ("lax.switch(0, [])", "Empty branch sequence"),
    # loop carries that change type, scans over mismatched lengths
    (
        "lax.scan(lambda c, x: (c.astype(jnp.int32), x), 0.0, jnp.arange(3.0))",
        "scan body function carry input and carry output must have equal types",
    ),
    (
        "lax.scan(lambda c, x: (jnp.stack([c, c]), x), 0.0, jnp.arange(3.0))",
        "scan body function carry input and carry output must have equal types",
    ),
    (
        "lax.scan(lambda c, x: ((c, c), x), 0.0, jnp.arange(3.0))",
        "scan body function carry input and carry output must have the same pytree structure",
    ),
    (
        "lax.scan(lambda c, x: (c, x), 0.0, (jnp.arange(3.0), jnp.arange(4.0)))",
        "scan got values with different leading axis sizes: 3, 4.",
    ),
    (
        "lax.scan(lambda c, x: (c, x), 0.0, jnp.arange(3.0), length=5)",
        "scan got `length` argument of 5 which disagrees with leading axis sizes [3]",
    ),
    (
        "lax.scan(lambda c, x: (c, x), 0.0, None)",
        "scan got no values to scan over and `length` not provided",
    ),
    ("lax.scan(lambda c, x: c, 0.0, jnp.arange(3.0))", "scan body output must be a pair"),
    (
        "lax.while_loop(lambda c: c < 3, lambda c: jnp.stack([c, c]), 0.0)",
        "while_loop body function carry input and carry output must have equal types",
    ),
    (
        "lax.while_loop(lambda c: jnp.stack([c, c]) < 3, lambda c: c + 1, 0.0)",
        "cond_fun must return a boolean scalar",
    ),
    # broadcasting and matmul mismatches
    ("jnp.ones(3) + jnp.ones(4)", "add got incompatible shapes for broadcasting: (3,), (4,)."),
    ("jnp.ones((2, 3)) * jnp.ones((3, 2))", "mul got incompatible shapes for broadcasting"),
    (
        "jax.jit(lambda x, y: x < y)(jnp.ones(3), jnp.ones(4))",
        "lt got incompatible shapes for broadcasting",
    ),
    (
        "jnp.ones((2, 3)) + jnp.ones(4)",
        "Incompatible shapes for broadcasting: shapes=[(2, 3), (4,)]",
    ),
    (
        "jnp.where(jnp.ones(3) > 0, jnp.ones(4), 0.0)",
        "Incompatible shapes for broadcasting: shapes=[(3,), (4,), ()]",
    ),
    (
        "jnp.ones((2, 3)) @ jnp.ones((2, 3))",
        "dot_general requires contracting dimensions to have the same shape, got (3,) and (2,).",
    ),
    ("jnp.ones(3) @ jnp.ones(4)", "dot_general requires contracting dimensions"),
    ("jnp.dot(jnp.ones(3), jnp.ones(4))", "dot_general requires contracting dimensions"),
    (
        "jnp.matmul(jnp.ones((5, 2, 3)), jnp.ones((4, 3, 2)))",
        "Incompatible types for matmul arguments: float32[5,2,3] and float32[4,3,2]",
    ),
    ("jnp.ones(()) @ jnp.ones(3)", "matmul input operand 0 must have ndim at least 1"),
    ("lax.add(jnp.float32(1), jnp.int32(1))", "lax.add requires arguments to have the same dtypes"),
    ("jax.lax.sin(1)", "sin does not accept dtype int32"),
    ("jnp.sin([1.0, 2.0])", "sin requires ndarray or scalar arguments"),
    # traced values where Python needs a concrete one
    ("jax.jit(lambda x: int(x))(1.0)", "Abstract tracer value encountered where concrete value"),
    ("jax.jit(lambda x: float(x))(1.0)", "Abstract tracer value encountered where concrete value"),
    ("jax.jit(lambda x: x.item())(1.0)", "Abstract tracer value encountered where concrete value"),
    (
        "jax.jit(lambda x: x.tolist())(jnp.ones(3))",
        "Abstract tracer value encountered where concrete value",
    ),
    (
        "jax.jit(lambda x: x if x > 0 else -x)(1.0)",
        "Attempted boolean conversion of traced array with shape bool[]",
    ),
    (
        "jax.vmap(lambda x: 1 if x else 0)(jnp.array([True]))",
        "Attempted boolean conversion of traced array with shape bool[]",
    ),
    (
        "jax.jit(lambda x: np.asarray(x))(1.0)",
        "The numpy.ndarray conversion method __array__() was called on traced array",
    ),
    (
        "jax.jit(lambda x: range(x))(3)",
        "The __index__() method was called on traced array with shape int32[]",
    ),
    ("jax.jit(lambda x: jnp.arange(x))(3)", "Abstract tracer value encountered where concrete"),
    ("jax.jit(lambda x: jnp.nonzero(x))(jnp.ones(3))", "Abstract tracer value encountered"),
    (
        "jax.jit(lambda x: jnp.zeros(x))(3)",
        "Shapes must be 1D sequences of concrete values of integer type",
    ),
    ("jax.jit(lambda x: jnp.ones(3)[x:x + 2])(0)", "Slice entries must be static integers"),
    ("jax.jit(lambda x: x[x > 0])(jnp.ones(3))", "Array boolean indices must be concrete"),
    (
        "(lambda s: (jax.jit(lambda x: s.append(x) or x)(1.0), s[0] + 1))([])",
        "Encountered an unexpected tracer",
    ),
    # jit's arguments and options
    (
        "jax.jit(lambda x, n: x * n, static_argnums=1)(1.0, [1])",
        "Non-hashable static arguments are not supported",
    ),
    (
        "jax.jit(lambda x, y: x, static_argnames='y')(1.0, y=jnp.ones(2))",
        "Non-hashable static arguments are not supported",
    ),
    ("jax.jit(lambda x: x)('a')", "Error interpreting argument to"),
    ("jax.jit(lambda x: x)(object())", "Error interpreting argument to"),
    ("jax.jit(lambda x: x)(jnp.ones(3), 1)", "takes 1 positional argument but 2 were given"),
    (
        "jax.jit(lambda x: x, static_argnums=3)",
        "Jitted function has static_argnums=(3,), but only accepts 1 positional arguments.",
    ),
    (
        "jax.jit(lambda x: x, donate_argnums=3)",
        "Jitted function has donate_argnums=(3,), but only accepts 1 positional arguments.",
    ),
    (
        "jax.jit(lambda x: x, static_argnames='y')",
        "Jitted function has invalid argnames {'y'} in static_argnames",
    ),
    ("jax.jit(1)", "Expected a callable value, got 1"),
    ("jax.grad(1)", "Expected a callable value, got 1"),
    ("jax.vmap(1)", "Expected a callable value, got 1"),
    (
        "jax.jit(lambda x: x).lower(1.0).compile()(jnp.ones(2))",
        "Argument types differ from the types for which this computation was compiled",
    ),
    (
        "jax.jit(lambda x: x).lower(1.0).compile()(1.0, 2.0)",
        "Function compiled with input pytree does not match the input pytree it was called with",
    ),
    ("jax.make_jaxpr(1)", "the first argument must be callable"),
    # functions that return something that is not an array (JAX names the function's line)
    (
        "jax.jit(lambda x: 'a')(1.0)",
        "function <lambda> at <string>:1 traced for jit returned a value of type <class 'str'>",
    ),
    ("jax.make_jaxpr(lambda x: object())(1.0)", "which is not a valid JAX type"),
    ("jax.eval_shape(lambda x: 'a', 1.0)", "traced for jit returned a value of type"),
    (
        "lax.scan(lambda c, x: (c, 'a'), 0.0, jnp.ones(3))",
        "traced for scan returned a value of type <class 'str'> at output component [1]",
    ),
    ("lax.cond(True, lambda: 'a', lambda: 'b')", "traced for cond returned a value of type"),
    ("jax.grad(lambda x: 'a')(1.0)", "is not a valid JAX type"),
    ("jax.vmap(lambda x: 'a')(jnp.ones(3))", "is not a valid JAX type"),
    ("jax.lax.stop_gradient('a')", "Argument 'a' of type <class 'str'> is not a valid JAX type"),
    (
        "jax.lax.while_loop(lambda c: True, lambda c: c, 'a')",
        "Argument 'a' of type <class 'str'> is not a valid JAX type",
    ),
    ("jax.jit(lambda x: x)(np.ones(2, np.longdouble))", "Error interpreting argument to"),
    ("jnp.asarray(np.ones(2, np.clongdouble))", "Error interpreting argument to"),
    ("jax.device_put(jnp.ones(3), 'cpu')", "Received invalid value: cpu"),
    ("lax.fori_loop(0, 3, lambda i: i, 0)", "takes 1 positional argument but 2 were given"),
    # arrays used as Python scalars
    ("float(jnp.ones(3))", "Only scalar arrays can be converted to Python scalars; got arr.ndim=1"),
    ("int(jnp.ones((1, 1)))", "Only scalar arrays can be converted to Python scalars"),
    ("range(jnp.ones(1, int))", "Only integer scalar arrays can be converted to a scalar index"),
    ("bool(jnp.ones(2))", "The truth value of an array with more than one element is ambiguous"),
    ("len(jnp.float32(1))", "len() of unsized object"),
    ("hash(jnp.ones(3))", "unhashable type"),
    # in-place assignment and indexing
    (
        "(lambda x: x.__setitem__(0, 1))(jnp.ones(3))",
        "JAX arrays are immutable and do not support in-place item assignment",
    ),
    (
        "jax.jit(lambda x: x.__setitem__(0, 1))(jnp.ones(3))",
        "JAX arrays are immutable and do not support in-place item assignment",
    ),
    ("jnp.ones(3)[0, 0]", "Too many indices"),
    ("jnp.ones(3)[1.5]", "Indexer must have integer or boolean type"),
    ("jnp.ones(3)['a']", "JAX does not support string indexing"),
    ("jnp.ones(3)[::0]", "slice step cannot be zero"),
    ("jnp.take(jnp.ones(3), 1.5)", "indices must have an integer type"),
    (
        "jnp.ones(3)[jnp.array([True, False])]",
        "boolean index did not match shape of indexed array",
    ),
    ("jnp.ones(3).at[0].set(1.0, mode='foo')", 'Unknown gather mode "foo"'),
    # vmap axes
    (
        "jax.vmap(lambda x: x, in_axes=1)(jnp.ones(3))",
        "vmap was requested to map its argument along axis 1, which implies that its rank "
        "should be at least 2, but is only 1",
    ),
    ("jax.vmap(lambda x: x)(1.0)", "vmap was requested to map its argument along axis 0"),
    (
        "jax.vmap(lambda x, y: x + y)(jnp.ones(3), jnp.ones(4))",
        "vmap got inconsistent sizes for array axes to be mapped",
    ),
    (
        "jax.vmap(lambda x: x, in_axes=(0, 0))(jnp.ones(3))",
        "but got len(in_axes)=2, len(args)=1",
    ),
    (
        "jax.vmap(lambda x: x, in_axes={'a': 0})(jnp.ones(3))",
        "vmap in_axes must be an int, None, or a tuple of entries",
    ),
    (
        "jax.vmap(lambda x: x, out_axes=2)(jnp.ones(3))",
        "axis 2 is out of bounds for array of dimension 1",
    ),
    # differentiation
    (
        "jax.grad(lambda x: x)(jnp.ones(3))",
        "Gradient only defined for scalar-output functions. Output had shape: (3,).",
    ),
    ("jax.grad(lambda x: (x, x))(1.0)", "Gradient only defined for scalar-output functions"),
    ("jax.grad(lambda x: x * 2)(1)", "grad requires real- or complex-valued inputs"),
    ("jax.jacfwd(lambda x: x)(1)", "jacfwd requires real-valued inputs"),
    ("jax.jacfwd(lambda x: x)(1j)", "jacfwd requires real-valued inputs"),
    ("jax.hessian(lambda x: x.real)(1j)", "jacfwd requires real-valued inputs"),
    (
        "jax.grad(lambda x: jnp.sum(x > 0))(1.0)",
        "but got int32. For differentiation of functions with integer outputs, use jax.vjp",
    ),
    (
        "jax.grad(lambda x: x.astype(complex))(1.0)",
        "but got complex64. For holomorphic differentiation, pass holomorphic=True",
    ),
    (
        "jax.grad(lambda x: x, has_aux=True)(1.0)",
        "expected function with aux output to return a two-element tuple",
    ),
    (
        "jax.grad(lambda x: x, argnums=2)(1.0)",
        "differentiating with respect to argnums=2 requires at least 3 positional arguments",
    ),
    (
        "jax.jvp(jnp.sin, (1.0,), (jnp.ones(2),))",
        "jvp called with different primal and tangent shapes",
    ),
    ("jax.jvp(jnp.sin, (1.0,), (1,))", "do not match; dtypes must be equal"),
    ("jax.jvp(jnp.sin, 1.0, 1.0)", "must be tuples or lists; found float and float"),
    (
        "jax.vjp(jnp.sin, 1.0)[1](jnp.ones(2))",
        "unexpected JAX type (e.g. shape/dtype) for argument to VJP function",
    ),
    # shapes, axes and dtypes
    (
        "jnp.ones(6).reshape(4, 2)",
        "cannot reshape array of shape (6,) (size 6) into shape (4, 2) (size 8)",
    ),
    ("jnp.reshape(jnp.ones(6), (4, -1))", "does not evenly divide 6"),
    ("jnp.zeros(3, dtype='foo')", "data type 'foo' not understood"),
    ("jnp.ones(3).astype('foo')", "data type 'foo' not understood"),
    ("jnp.ones(-1)", "broadcast_in_dim shape must have every element be nonnegative"),
    ("jnp.broadcast_to(1.0, (2, -1))", "broadcast_in_dim shape must have every element be"),
    ("jnp.ones((2, 'a'))", "Shapes must be 1D sequences of concrete values of integer type"),
    (
        "jnp.transpose(jnp.ones((2, 3)), (0,))",
        "transpose permutation isn't a permutation of operand dimensions",
    ),
    ("jnp.sum(jnp.ones(3), axis=1)", "axis 1 is out of bounds for array of dimension 1"),
    ("jnp.ones(3).sum(axis=(0, 0))", "duplicate value in 'axis'"),
    (
        "jnp.concatenate([jnp.ones(2), jnp.ones((2, 2))])",
        "Cannot concatenate arrays with different numbers of dimensions",
    ),
    ("jnp.stack([jnp.ones(2), jnp.ones(3)])", "All input arrays must have the same shape"),
    ("jnp.split(jnp.ones(5), 2)", "array split does not result in an equal division"),
    ("jnp.linalg.inv(jnp.ones(3))", "Argument to inv must have shape [..., n, n], got (3,)."),
    ("jnp.array([[1, 2], [3]])", "inhomogeneous shape"),
    ("jnp.concatenate([])", "Need at least one array to concatenate"),
    ("jnp.pad(jnp.ones(3), ((1, 1), (1, 1)))", "pad_width with nd=1 has unsupported shape (2, 2)"),
    ("jnp.linspace(0, 1, -1)", "Number of samples, -1, must be non-negative"),
    (
        "jnp.linalg.solve(jnp.ones((2, 2)), jnp.ones(3))",
        "inconsistent size for core dimension 'm'",
    ),
    (
        "lax.dynamic_update_slice(jnp.ones(3), jnp.ones(4), (0,))",
        "dynamic_update_slice update shape must be smaller than operand shape",
    ),
    (
        "jax.lax.reduce(jnp.ones(3), 0.0, lax.add, (1,))",
        "reduction axes (1,) contains out-of-bounds indices for float32[3]",
    ),
    (
        "jax.tree_util.tree_unflatten(jax.tree_util.tree_structure([1, 2]), [1])",
        "Too few leaves for PyTreeDef",
    ),
    ("jax.tree_util.tree_map(lambda a, b: a + b, [1, 2], [1])", "pytree structure error"),
    ("jax.tree_util.tree_map(lambda a, b: a + b, {'a': 1}, {'b': 1})", "pytree structure error"),
    ("jax.tree_util.tree_map(lambda a, b: a, [1], 1)", "pytree structure error"),
    (
        "lax.dynamic_slice(jnp.ones(3), (0,), (5,))",
        "slice slice_sizes must be less than or equal to operand shape",
    ),
    (
        "lax.broadcast_in_dim(jnp.ones(3), (4,), (0,))",
        "broadcast_in_dim operand dimension sizes must either be 1",
    ),
    # random keys and samplers
    ("jax.random.normal(0, (2,))", "JAX encountered invalid PRNG key data"),
    ("jax.random.PRNGKey(0.5)", "PRNG key seed must be an integer"),
    (
        "jax.random.uniform(jax.random.PRNGKey(0), (2,), dtype=jnp.int32)",
        "dtype argument to `uniform` must be a float dtype",
    ),
    (
        "jax.random.randint(jax.random.PRNGKey(0), (2,), 0, 10, dtype=jnp.float32)",
        "randint only accepts integer dtypes",
    ),
    (
        "jax.random.normal(jax.random.PRNGKey(0), (2,), dtype=jnp.int32)",
        "dtype argument to `normal` must be a float or complex dtype",
    ),
    (
        "jax.random.choice(jax.random.PRNGKey(0), 5, (6,), replace=False)",
        "Cannot take a larger sample (size 6) than population (size 5)",
    ),
    # Python ints that do not fit the default integer type (JAX's jitted jnp functions word
    # it differently; both name the value)
    ("jnp.int8(3) + 2**31", "2147483648"),
    ("jnp.asarray(1.0) + 2**40", "1099511627776"),
    ("jax.device_put(2**31)", "Python int 2147483648 too large to convert to int32"),
    ("lax.add(1, 2**31)", "Python int 2147483648 too large to convert to int32"),
    (
        "jnp.arange(3, dtype=jnp.int8).at[0].set(2**31)",
        "Python int 2147483648 too large to convert to int32",
    ),
    ("jnp.array(1000, dtype=jnp.int8)", "Python integer 1000 out of bounds for int8"),
    ("jnp.array([1, 2**31])", "Python integer 2147483648 out of bounds for int32"),
]

# Where JAX 0.10.2 itself gives no usable error, the engine does better: (expression,
# the engine's class, its key phrase, what JAX does). Run on the engine only (JAX aborts
# the process on the huge shapes).
BEYOND_JAX = [
    (
        "jnp.zeros((2**40, 2**40))",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process (C++ BadStatusOrAccess)",
    ),
    (
        "jnp.ones((2**62,), dtype=jnp.float32)",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process",
    ),
    (
        "jax.jit(lambda x: jnp.broadcast_to(x, (2**40, 2**40)))(1.0)",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process",
    ),
    (
        "jax.tree_util.tree_leaves((lambda c: c.append(c) or c)([]))",
        "RecursionError",
        "contains a reference cycle",
        "SystemError: ... returned a result with an exception set",
    ),
    (
        "jax.jit(lambda t: 0)((lambda c: c.append(c) or c)([]))",
        "RecursionError",
        "contains a reference cycle",
        "SystemError",
    ),
    (
        "jax.tree_util.tree_flatten(__import__('functools').reduce(lambda t, _: [t], range(20000), []))",
        "RecursionError",
        "nested deeper than Python's recursion limit",
        "SystemError",
    ),
    (
        "jax.random.normal(jax.random.PRNGKey(0), (-1, 3))",
        "TypeError",
        "Only non-negative dimensions are allowed",
        "MLIRError: invalid tensor dimension size",
    ),
    (
        "jax.random.split(jax.random.PRNGKey(0), -1)",
        "TypeError",
        "the number of keys must be non-negative",
        "MLIRError: invalid tensor dimension size",
    ),
    (
        "jnp.ones(3).mean(axis=(0, 1))",
        "ValueError",
        "axis 1 is out of bounds for array of dimension 1",
        "IndexError: tuple index out of range",
    ),
    (
        "jnp.argmax(jnp.ones((2, 3)), axis=2)",
        "ValueError",
        "axis 2 is out of bounds for array of dimension 2",
        "IndexError: tuple index out of range",
    ),
    (
        "lax.reshape(jnp.ones(6), (4,))",
        "TypeError",
        "reshape total size must be unchanged",
        "ValueError: Cannot lower jaxpr with verifier errors",
    ),
]


def _run(expr, mods):
    try:
        eval(expr, {"np": np, **mods})
    except Exception as e:  # noqa: BLE001 - the exception is what we compare
        return e
    return None


@pytest.mark.parametrize("expr,phrase", CASES, ids=[c[0] for c in CASES])
def test_mistake_matches_jax(expr, phrase):
    jax, jnp = real_jax()
    theirs = _run(expr, {"jax": jax, "jnp": jnp, "lax": jax.lax})
    ours = _run(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    assert theirs is not None, "JAX accepts this: the case is wrong"
    assert ours is not None, f"engine accepted what JAX rejects: {theirs!r}"
    assert type(ours).__name__ == type(theirs).__name__, (ours, theirs)
    assert phrase in str(theirs), str(theirs)
    assert phrase in str(ours), str(ours)
    # the class hierarchy too (jax.errors' classes are TypeErrors, IndexErrors, ...)
    assert [c.__name__ for c in type(ours).__mro__ if c.__module__ == "builtins"] == [
        c.__name__ for c in type(theirs).__mro__ if c.__module__ == "builtins"
    ]
    if "<string>:1" in str(theirs):  # JAX names the user's line: so must we
        assert "<string>:1" in str(ours), str(ours)


ACCEPTED = [
    "lax.fori_loop(jnp.int32(0), 3, lambda i, c: c + 1, 0)",
    "lax.fori_loop(0.0, 2.5, lambda i, c: c + 1, 0)",
    # a Python int converts to the default int type, then wraps to a narrower one (JAX
    # 0.10.2; only ints outside int32, int64 under x64, raise)
    "jnp.arange(3, dtype=jnp.int8) + 1000",
    "jnp.int16(1) * 70000",
    "jnp.arange(3, dtype=jnp.uint8) - 1",
    "jnp.uint32(3) + (-1)",
    "jnp.int8(3) == 1000",
    "jnp.maximum(jnp.int8(3), 1000)",
    "jnp.where(True, jnp.int8(3), 1000)",
    "jnp.clip(jnp.int8(3), 0, 1000)",
    "jnp.zeros(2, jnp.int8).at[0].add(1000)",
    "jnp.full(2, 1000, dtype=jnp.int8)",
    "jnp.full(2, 2**31, dtype=jnp.int8)",
    "jax.jit(lambda x: x + 1000)(jnp.int8(3))",
    # float to int conversions of Python scalars saturate as XLA's convert does
    "lax.convert_element_type(300.7, jnp.uint8)",
    "lax.convert_element_type(-3.7, jnp.uint8)",
    "lax.convert_element_type(1e10, jnp.int32)",
    "jnp.full(2, 1e10, dtype=jnp.int8)",
    # JAX's "sharp bits": out-of-bounds indices clamp (gathers) or are dropped (scatters);
    # float to unsigned conversions saturate
    "jnp.arange(3)[5]",
    "jnp.arange(3)[-4]",
    "jnp.arange(3.0).at[5].set(1.0)",
    "jnp.arange(254.0, 258.0).astype('uint8')",
    # a Python bool is not weakly typed (int/float/complex are)
    "jax.device_put(True)",
    "jax.jit(lambda x: x)(True)",
    "lax.cond(True, lambda: True, lambda: False)",
    "jnp.full((), True)",
    "jax.jit(lambda: True)()",
    "jnp.maximum(True, 1)",
    "jnp.add(True, 1.0)",
    "jnp.asarray(1) < 2",
    "(jnp.asarray(1) < 2) & True",
    "jnp.zeros(())",
    "jax.jit(lambda x: x)(1)",
]


@pytest.mark.parametrize("expr", ACCEPTED)
def test_accepted_like_jax(expr):
    """Values, dtypes and weak types as JAX gives them."""
    jax, jnp = real_jax()
    theirs = eval(expr, {"jax": jax, "jnp": jnp, "lax": jax.lax})
    ours = eval(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    assert type(ours).__name__ == "Array", type(ours)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert ours.dtype == theirs.dtype
    assert ours.weak_type == theirs.weak_type, (ours, theirs)


def test_python_int_overflow_under_x64():
    """Under x64 the default int is int64: 2**40 wraps to int8, 2**63 still raises."""
    jax, jnp = real_jax()
    with jax.enable_x64(True), engine.enable_x64(True):
        for mod in (jnp, ejnp):
            np.testing.assert_array_equal(mod.int8(3) + 2**40, np.int8(3))
            assert (mod.asarray(1) + 2**31).dtype == np.int64
            with pytest.raises(OverflowError, match="9223372036854775808"):
                mod.int8(3) + 2**63


@pytest.mark.parametrize("expr,cls,phrase,jax_does", BEYOND_JAX, ids=[c[0] for c in BEYOND_JAX])
def test_mistake_clearer_than_jax(expr, cls, phrase, jax_does):
    ours = _run(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    assert ours is not None, f"engine accepted it (JAX: {jax_does})"
    assert type(ours).__name__ == cls, repr(ours)
    assert phrase in str(ours), str(ours)


def test_cond_mismatch_names_true_fun_first():
    """JAX names true_fun first; so does the engine, whichever branch is wrong."""
    for expr in (
        "lax.cond(True, lambda x: x, lambda x: x.astype('int32'), 1.0)",
        "lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)",
    ):
        msg = str(_run(expr, {"jax": engine, "jnp": ejnp, "lax": elax}))
        assert msg.index("true_fun") < msg.index("false_fun"), msg
    expr = "lax.cond(True, lambda x: x, lambda x: x.astype('int32'), 1.0)"
    msg = str(_run(expr, {"jax": engine, "jnp": ejnp, "lax": elax}))
    assert "true_fun returns (f32[]) and false_fun returns (i32[])" in msg, msg


def test_error_classes_match_jax_errors():
    """Every class in jax.errors exists in engine.errors with JAX's builtin bases."""
    jax, _ = real_jax()
    for name in dir(jax.errors):
        theirs = getattr(jax.errors, name)
        if name.startswith("_") or not isinstance(theirs, type):
            continue
        ours = getattr(engine.errors, name)

        def chain(cls):
            return [c.__name__ for c in cls.__mro__ if not c.__name__.startswith("_")]

        assert chain(ours) == chain(theirs), name
