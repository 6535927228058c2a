"""A two-operand jnp.einsum contracts its operands in JAX's order (opt_einsum hands JAX
the pair reversed; JAX keeps the original order only where that result needs no
transpose) with its batch dimensions in the output's order, so the jaxpr, and XLA's
program from it, are JAX's."""

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp

SPECS = [
    ("bhqk,bkhd->bqhd", (2, 3, 4, 5), (2, 5, 3, 6)),  # attention's weighted values
    ("bqhd,bkhd->bhqk", (2, 4, 3, 6), (2, 5, 3, 6)),  # attention's scores
    ("ij,jk->ki", (3, 4), (4, 5)),
    ("ij,jk->ik", (3, 4), (4, 5)),
    ("ij,kj->ik", (3, 4), (5, 4)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("hbi,bhj->bij", (3, 2, 4), (2, 3, 5)),
    ("bi,bi->b", (3, 4), (3, 4)),
    ("hbi,hbj->bhij", (3, 2, 4), (3, 2, 5)),  # batch labels in the output's order
    ("bhi,hbj->hbji", (2, 3, 4), (3, 2, 5)),
]


@pytest.mark.parametrize("spec,sa,sb", SPECS)
def test_two_operand_einsum_jaxpr_and_values_as_jax(spec, sa, sb):
    jax, jnp = real_jax()
    r = np.random.RandomState(0)
    a, b = r.randn(*sa).astype(np.float32), r.randn(*sb).astype(np.float32)
    ours = engine.make_jaxpr(lambda x, y: enp.einsum(spec, x, y))(a, b)
    theirs = jax.make_jaxpr(lambda x, y: jnp.einsum(spec, x, y))(a, b)
    assert str(ours) == str(theirs)
    np.testing.assert_allclose(
        np.asarray(enp.einsum(spec, a, b)), np.asarray(jnp.einsum(spec, a, b)), rtol=1e-5, atol=1e-5
    )
