"""JAX's "Custom derivative rules for Python code" tutorial
(docs/notebooks/Custom_derivative_rules_for_Python_code in jax-ml/jax), cell by cell,
through the engine and through real JAX, comparing what each cell prints (and the value
of its last expression, as a notebook shows it).

Each cell runs with ``jax`` meaning the engine (every ``import jax...`` is redirected to
``engine...``) and then with real JAX, in two separate namespaces that persist from cell
to cell as in a notebook. Plots are replaced by printing a sample of the plotted arrays;
the cell that opens ``pdb`` only defines the function (as in the tutorial, which never
calls it).

    .venv/bin/python benchmarks/tutorial_custom_derivatives.py [-v]

Prints one line per cell (exact / close / DIFFERS / ERROR) and a summary; exit status 0
when every cell matches.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import re
import sys
import textwrap

import numpy as np

# The tutorial's code cells, in order (its prose is not reproduced).
CELLS = [
    # -- TL;DR: custom_jvp
    """
import jax.numpy as jnp
from jax import custom_jvp

@custom_jvp
def f(x, y):
  return jnp.sin(x) * y

@f.defjvp
def f_jvp(primals, tangents):
  x, y = primals
  x_dot, y_dot = tangents
  primal_out = f(x, y)
  tangent_out = jnp.cos(x) * x_dot * y + jnp.sin(x) * y_dot
  return primal_out, tangent_out
""",
    """
from jax import jvp, grad

print(f(2., 3.))
y, y_dot = jvp(f, (2., 3.), (1., 0.))
print(y)
print(y_dot)
print(grad(f)(2., 3.))
""",
    """
@custom_jvp
def f(x, y):
  return jnp.sin(x) * y

f.defjvps(lambda x_dot, primal_out, x, y: jnp.cos(x) * x_dot * y,
          lambda y_dot, primal_out, x, y: jnp.sin(x) * y_dot)
""",
    """
print(f(2., 3.))
y, y_dot = jvp(f, (2., 3.), (1., 0.))
print(y)
print(y_dot)
print(grad(f)(2., 3.))
""",
    # -- TL;DR: custom_vjp
    """
from jax import custom_vjp

@custom_vjp
def f(x, y):
  return jnp.sin(x) * y

def f_fwd(x, y):
  return f(x, y), (jnp.cos(x), jnp.sin(x), y)

def f_bwd(res, g):
  cos_x, sin_x, y = res
  return (cos_x * g * y, sin_x * g)

f.defvjp(f_fwd, f_bwd)
""",
    "print(grad(f)(2., 3.))",
    # -- numerical stability
    """
def log1pexp(x):
  return jnp.log(1. + jnp.exp(x))

log1pexp(3.)
""",
    """
from jax import jit, grad, vmap

print(jit(log1pexp)(3.))
print(jit(grad(log1pexp))(3.))
print(vmap(jit(grad(log1pexp)))(jnp.arange(3.)))
""",
    "print(grad(log1pexp)(100.))",
    """
from jax import make_jaxpr

make_jaxpr(grad(log1pexp))(100.)
""",
    """
from jax import custom_jvp

@custom_jvp
def log1pexp(x):
  return jnp.log(1. + jnp.exp(x))

@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
  x, = primals
  x_dot, = tangents
  ans = log1pexp(x)
  ans_dot = (1 - 1/(1 + jnp.exp(x))) * x_dot
  return ans, ans_dot
""",
    "print(grad(log1pexp)(100.))",
    """
print(jit(log1pexp)(3.))
print(jit(grad(log1pexp))(3.))
print(vmap(jit(grad(log1pexp)))(jnp.arange(3.)))
""",
    """
@custom_jvp
def log1pexp(x):
  return jnp.log(1. + jnp.exp(x))

log1pexp.defjvps(lambda t, ans, x: (1 - 1/(1 + jnp.exp(x))) * t)
""",
    """
print(grad(log1pexp)(100.))
print(jit(log1pexp)(3.))
print(jit(grad(log1pexp))(3.))
print(vmap(jit(grad(log1pexp)))(jnp.arange(3.)))
""",
    # -- enforcing a differentiation convention
    """
def f(x):
  return x / (1 + jnp.sqrt(x))
""",
    "print(grad(f)(0.))",
    """
@custom_jvp
def f(x):
  return x / (1 + jnp.sqrt(x))

@f.defjvp
def f_jvp(primals, tangents):
  x, = primals
  x_dot, = tangents
  ans = f(x)
  ans_dot = ((jnp.sqrt(x) + 2) / (2 * (jnp.sqrt(x) + 1)**2)) * x_dot
  return ans, ans_dot
""",
    "print(grad(f)(0.))",
    """
@custom_jvp
def f(x):
  return x / (1 + jnp.sqrt(x))

f.defjvps(lambda t, ans, x: ((jnp.sqrt(x) + 2) / (2 * (jnp.sqrt(x) + 1)**2)) * t)
""",
    "print(grad(f)(0.))",
    # -- gradient clipping
    """
from functools import partial
from jax import custom_vjp

@custom_vjp
def clip_gradient(lo, hi, x):
  return x

def clip_gradient_fwd(lo, hi, x):
  return x, (lo, hi)

def clip_gradient_bwd(res, g):
  lo, hi = res
  return (None, None, jnp.clip(g, lo, hi))

clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)
""",
    """
from jax import vmap

t = jnp.linspace(0, 10, 1000)

plt.plot(jnp.sin(t))
plt.plot(vmap(grad(jnp.sin))(t))
""",
    """
def clip_sin(x):
  x = clip_gradient(-0.75, 0.75, x)
  return jnp.sin(x)

plt.plot(clip_sin(t))
plt.plot(vmap(grad(clip_sin))(t))
""",
    # -- implicit function differentiation
    """
from jax.lax import while_loop

def fixed_point(f, a, x_guess):
  def cond_fun(carry):
    x_prev, x = carry
    return jnp.abs(x_prev - x) > 1e-6

  def body_fun(carry):
    _, x = carry
    return x, f(a, x)

  _, x_star = while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
  return x_star
""",
    """
def newton_sqrt(a):
  update = lambda a, x: 0.5 * (x + a / x)
  return fixed_point(update, a, a)
""",
    "print(newton_sqrt(2.))",
    "print(jit(vmap(newton_sqrt))(jnp.array([1., 2., 3., 4.])))",
    """
from jax import vjp

@partial(custom_vjp, nondiff_argnums=(0,))
def fixed_point(f, a, x_guess):
  def cond_fun(carry):
    x_prev, x = carry
    return jnp.abs(x_prev - x) > 1e-6

  def body_fun(carry):
    _, x = carry
    return x, f(a, x)

  _, x_star = while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
  return x_star

def fixed_point_fwd(f, a, x_init):
  x_star = fixed_point(f, a, x_init)
  return x_star, (a, x_star)

def fixed_point_rev(f, res, x_star_bar):
  a, x_star = res
  _, vjp_a = vjp(lambda a: f(a, x_star), a)
  a_bar, = vjp_a(fixed_point(partial(rev_iter, f),
                             (a, x_star, x_star_bar),
                             x_star_bar))
  return a_bar, jnp.zeros_like(x_star)

def rev_iter(f, packed, u):
  a, x_star, x_star_bar = packed
  _, vjp_x = vjp(lambda x: f(a, x), x_star)
  return x_star_bar + vjp_x(u)[0]

fixed_point.defvjp(fixed_point_fwd, fixed_point_rev)
""",
    "print(newton_sqrt(2.))",
    """
print(grad(newton_sqrt)(2.))
print(grad(grad(newton_sqrt))(2.))
""",
    """
print(grad(jnp.sqrt)(2.))
print(grad(grad(jnp.sqrt))(2.))
""",
    # -- custom_jvp in detail
    """
from jax import custom_jvp
import jax.numpy as jnp

@custom_jvp
def f(x):
  return jnp.sin(x)

def f_jvp(primals, tangents):
  x, = primals
  t, = tangents
  return f(x), jnp.cos(x) * t

f.defjvp(f_jvp)
""",
    """
from jax import jvp

print(f(3.))

y, y_dot = jvp(f, (3.,), (1.,))
print(y)
print(y_dot)
""",
    """
from jax import grad

print(grad(f)(3.))
print(grad(grad(f))(3.))
""",
    """
@custom_jvp
def f(x, y):
  return x ** 2 * y

@f.defjvp
def f_jvp(primals, tangents):
  x, y = primals
  x_dot, y_dot = tangents
  primal_out = f(x, y)
  tangent_out = 2 * x * y * x_dot + x ** 2 * y_dot
  return primal_out, tangent_out
""",
    "print(grad(f)(2., 3.))",
    """
@custom_jvp
def f(x):
  return jnp.sin(x)

f.defjvps(lambda t, ans, x: jnp.cos(x) * t)
""",
    "print(grad(f)(3.))",
    """
@custom_jvp
def f(x, y):
  return x ** 2 * y

f.defjvps(lambda x_dot, primal_out, x, y: 2 * x * y * x_dot,
          lambda y_dot, primal_out, x, y: x ** 2 * y_dot)
""",
    """
print(grad(f)(2., 3.))
print(grad(f, 0)(2., 3.))
print(grad(f, 1)(2., 3.))
""",
    """
@custom_jvp
def f(x, y):
  return x ** 2 * y

f.defjvps(lambda x_dot, primal_out, x, y: 2 * x * y * x_dot,
          None)
""",
    """
print(grad(f)(2., 3.))
print(grad(f, 0)(2., 3.))
print(grad(f, 1)(2., 3.))
""",
    """
@custom_jvp
def f(x):
  print('called f!')
  return jnp.sin(x)

@f.defjvp
def f_jvp(primals, tangents):
  print('called f_jvp!')
  x, = primals
  t, = tangents
  return f(x), jnp.cos(x) * t
""",
    """
from jax import vmap, jit

print(f(3.))
""",
    """
print(vmap(f)(jnp.arange(3.)))
print(jit(f)(3.))
""",
    """
y, y_dot = jvp(f, (3.,), (1.,))
print(y_dot)
""",
    "print(grad(f)(3.))",
    "grad(grad(f))(3.)",
    """
@custom_jvp
def f(x):
  if x > 0:
    return jnp.sin(x)
  else:
    return jnp.cos(x)

@f.defjvp
def f_jvp(primals, tangents):
  x, = primals
  x_dot, = tangents
  ans = f(x)
  if x > 0:
    return ans, 2 * x_dot
  else:
    return ans, 3 * x_dot
""",
    """
print(grad(f)(1.))
print(grad(f)(-1.))
""",
    # -- custom_vjp in detail
    """
from jax import custom_vjp
import jax.numpy as jnp

@custom_vjp
def f(x):
  return jnp.sin(x)

def f_fwd(x):
  return f(x), jnp.cos(x)

def f_bwd(cos_x, y_bar):
  return (cos_x * y_bar,)

f.defvjp(f_fwd, f_bwd)
""",
    """
from jax import grad

print(f(3.))
print(grad(f)(3.))
""",
    """
from jax import custom_vjp

@custom_vjp
def f(x, y):
  return jnp.sin(x) * y

def f_fwd(x, y):
  return f(x, y), (jnp.cos(x), jnp.sin(x), y)

def f_bwd(res, g):
  cos_x, sin_x, y = res
  return (cos_x * g * y, sin_x * g)

f.defvjp(f_fwd, f_bwd)
""",
    "print(grad(f)(2., 3.))",
    """
@custom_vjp
def f(x):
  print("called f!")
  return jnp.sin(x)

def f_fwd(x):
  print("called f_fwd!")
  return f(x), jnp.cos(x)

def f_bwd(cos_x, y_bar):
  print("called f_bwd!")
  return (cos_x * y_bar,)

f.defvjp(f_fwd, f_bwd)
""",
    "print(f(3.))",
    "print(grad(f)(3.))",
    """
y, f_vjp = vjp(f, 3.)
print(y)
""",
    "print(f_vjp(1.))",
    """
from jax import jvp

try:
  jvp(f, (3.,), (1.,))
except TypeError as e:
  print('ERROR! {}'.format(e))
""",
    """
import pdb

@custom_vjp
def debug(x):
  return x

def debug_fwd(x):
  return x, x

def debug_bwd(x, g):
  pdb.set_trace()
  return g

debug.defvjp(debug_fwd, debug_bwd)
""",
    """
def foo(x):
  y = x ** 2
  y = debug(y)
  return jnp.sin(y)
""",
    # -- pytrees
    """
from collections import namedtuple
Point = namedtuple("Point", ["x", "y"])

@custom_jvp
def f(pt):
  x, y = pt.x, pt.y
  return {'a': x ** 2,
          'b': (jnp.sin(x), jnp.cos(y))}

@f.defjvp
def f_jvp(primals, tangents):
  pt, = primals
  pt_dot, =  tangents
  ans = f(pt)
  ans_dot = {'a': 2 * pt.x * pt_dot.x,
             'b': (jnp.cos(pt.x) * pt_dot.x, -jnp.sin(pt.y) * pt_dot.y)}
  return ans, ans_dot

def fun(pt):
  dct = f(pt)
  return dct['a'] + dct['b'][0]
""",
    """
pt = Point(1., 2.)

print(f(pt))
""",
    "print(grad(fun)(pt))",
    """
@custom_vjp
def f(pt):
  x, y = pt.x, pt.y
  return {'a': x ** 2,
          'b': (jnp.sin(x), jnp.cos(y))}

def f_fwd(pt):
  return f(pt), pt

def f_bwd(pt, g):
  a_bar, (b0_bar, b1_bar) = g['a'], g['b']
  x_bar = 2 * pt.x * a_bar + jnp.cos(pt.x) * b0_bar
  y_bar = -jnp.sin(pt.y) * b1_bar
  return (Point(x_bar, y_bar),)

f.defvjp(f_fwd, f_bwd)

def fun(pt):
  dct = f(pt)
  return dct['a'] + dct['b'][0]
""",
    """
pt = Point(1., 2.)

print(f(pt))
""",
    "print(grad(fun)(pt))",
    # -- nondiff_argnums
    """
from functools import partial

@partial(custom_jvp, nondiff_argnums=(0,))
def app(f, x):
  return f(x)

@app.defjvp
def app_jvp(f, primals, tangents):
  x, = primals
  x_dot, = tangents
  return f(x), 2. * x_dot
""",
    "print(app(lambda x: x ** 3, 3.))",
    "print(grad(app, 1)(lambda x: x ** 3, 3.))",
    """
@partial(custom_jvp, nondiff_argnums=(0, 2))
def app2(f, x, g):
  return f(g((x)))

@app2.defjvp
def app2_jvp(f, g, primals, tangents):
  x, = primals
  x_dot, = tangents
  return f(g(x)), 3. * x_dot
""",
    "print(app2(lambda x: x ** 3, 3., lambda y: 5 * y))",
    "print(grad(app2, 1)(lambda x: x ** 3, 3., lambda y: 5 * y))",
    """
@partial(custom_vjp, nondiff_argnums=(0,))
def app(f, x):
  return f(x)

def app_fwd(f, x):
  return f(x), x

def app_bwd(f, x, g):
  return (5 * g,)

app.defvjp(app_fwd, app_bwd)
""",
    "print(app(lambda x: x ** 2, 4.))",
    "print(grad(app, 1)(lambda x: x ** 2, 4.))",
]


class _Plot:
    """Stands in for matplotlib.pyplot: prints a sample of what would be plotted."""

    def plot(self, *arrays):
        for a in arrays:
            a = np.asarray(a)
            print(f"plot {a.shape} {a.dtype}: {np.array2string(a[::111], precision=5)}")


def _importer(backend):
    real = builtins.__import__

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        if backend == "engine" and level == 0 and (name == "jax" or name.startswith("jax.")):
            name = "engine" + name[3:]
        return real(name, globals, locals, fromlist, level)

    return imp


def run(backend):
    """Each cell's output text (stdout plus the last expression's repr) under one backend."""
    bi = dict(vars(builtins))
    bi["__import__"] = _importer(backend)
    ns = {"__builtins__": bi, "__name__": f"tutorial_{backend}", "plt": _Plot()}
    outs = []
    for src in CELLS:
        src = textwrap.dedent(src).strip("\n")
        tree = ast.parse(src)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                exec(compile(tree, f"<cell {backend}>", "exec"), ns)
                if last is not None:
                    val = eval(compile(last, f"<cell {backend}>", "eval"), ns)
                    if val is not None:
                        print(f"Out: {val!r}" if not hasattr(val, "eqns") else f"Out: {val}")
            outs.append(("ok", buf.getvalue()))
        except Exception as e:  # a cell that fails is reported, the next ones still run
            outs.append(("error", buf.getvalue() + f"{type(e).__name__}: {e}"))
    return outs


_NUM = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?|nan|-?inf")


def _numbers(text):
    return [float(x) for x in _NUM.findall(text)], _NUM.sub("#", text)


def compare(ours, theirs):
    """'exact' (object addresses aside), 'close' (same text but for the last digits of
    floats: values within rtol 1e-4, the last printed digit of a float32), or 'DIFFERS'."""
    addr = re.compile(r" at 0x[0-9a-f]+")
    ours, theirs = addr.sub(" at 0x…", ours), addr.sub(" at 0x…", theirs)
    if ours == theirs:
        return "exact"
    a, sa = _numbers(ours)
    b, sb = _numbers(theirs)
    norm = lambda s: re.sub(r"\s+", " ", s).strip()  # noqa: E731
    if norm(sa) == norm(sb) and len(a) == len(b):
        if np.allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True):
            return "close"
    return "DIFFERS"


def main(argv):
    verbose = "-v" in argv
    eng = run("engine")
    ref = run("jax")
    counts = {}
    for i, ((ek, et), (jk, jt)) in enumerate(zip(eng, ref)):
        if ek == "error" and jk != "error":
            verdict = "ERROR"
        else:
            verdict = compare(et, jt)
        counts[verdict] = counts.get(verdict, 0) + 1
        first = textwrap.shorten(CELLS[i].strip().splitlines()[0], 60)
        print(f"cell {i:2d} {verdict:8s} {first}")
        if verbose or verdict in ("DIFFERS", "ERROR"):
            print(textwrap.indent(f"engine:\n{et}\njax:\n{jt}", "    | "))
    matched = counts.get("exact", 0) + counts.get("close", 0)
    print(f"\n{matched}/{len(CELLS)} cells match JAX ({counts})")
    return 0 if matched == len(CELLS) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
