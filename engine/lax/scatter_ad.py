"""The scatter family's JVP and transpose rules (registered on import).

scatter-add/-sub are linear in operand and updates; scatter-mul is linear in each alone;
scatter-min/-max share a tied derivative between the values that equal the result; plain
scatter finds out which colliding update won so value and tangent agree.
"""

from __future__ import annotations

import numpy as np

from .. import core
from ..interpreters.jvp import Zero, add_tangents, instantiate, tangent_aval
from ..interpreters.transpose import is_undefined_primal
from . import elementwise as ew
from .gather_scatter import (
    GatherScatterMode,
    _inverse_gather,
    _update_jaxpr,
    gather,
    scatter,
    scatter_add,
    scatter_add_p,
    scatter_max_p,
    scatter_min_p,
    scatter_mul,
    scatter_mul_p,
    scatter_p,
    scatter_sub_p,
)
from .logic import eq, select
from .structural import full


def _zeros_of(x):
    a = core.get_aval(x)
    return full(a.shape, 0, a.dtype)


def _tangent_zero(out):
    return Zero(tangent_aval(core.get_aval(out)))


def _addsub_jvp(p):
    def rule(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = p.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, _tangent_zero(out)
        return out, p.bind(instantiate(t_op), indices, instantiate(t_up), **params)

    return rule


def _addsub_transpose(p):
    def rule(
        ct,
        operand,
        indices,
        updates,
        *,
        dimension_numbers,
        indices_are_sorted,
        mode,
        unique_indices,
        update_consts,
        update_jaxpr,
    ):
        assert not is_undefined_primal(indices)
        op_ct = up_ct = None
        if is_undefined_primal(operand):
            op_ct = Zero(operand.aval) if type(ct) is Zero else ct
        if is_undefined_primal(updates):
            if type(ct) is Zero:
                up_ct = Zero(updates.aval)
            else:
                # JAX's transpose gathers without the scatter's sorted/unique promises
                up_ct = _gather_updates(ct, indices, updates.aval.shape, dimension_numbers, mode)
                if p is scatter_sub_p:
                    up_ct = ew.neg(up_ct)
        return [op_ct, None, up_ct]

    return rule


def _gather_updates(x, indices, updates_shape, dnums, mode):
    """Read back, for each update element, the value of ``x`` at the place it scatters to
    (0 where the update was dropped)."""
    gdn, sizes = _inverse_gather(dnums, core.get_aval(x).shape, updates_shape)
    fill = 0 if mode == GatherScatterMode.FILL_OR_DROP else None
    return gather(
        x,
        indices,
        gdn,
        sizes,
        mode=mode,
        fill_value=fill,
    )


for _p in (scatter_add_p, scatter_sub_p):
    _p.def_jvp(_addsub_jvp(_p))
    _p.def_transpose(_addsub_transpose(_p))


def _scatter_mul_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    if type(t_op) is Zero and type(t_up) is Zero:
        return out, _tangent_zero(out)
    t_out = _tangent_zero(out)
    if type(t_op) is not Zero:
        t_out = scatter_mul_p.bind(t_op, indices, updates, **params)
    if type(t_up) is not Zero:
        if not params["unique_indices"]:
            raise NotImplementedError(
                "scatter_mul gradients are only implemented if `unique_indices=True`"
            )
        add_params = dict(params, update_jaxpr=_update_jaxpr("add", core.get_aval(t_up).dtype))
        spread = scatter_add_p.bind(_zeros_of(operand), indices, t_up, **add_params)
        contrib = ew.mul(operand, spread)
        t_out = contrib if type(t_out) is Zero else add_tangents(t_out, contrib)
    return out, t_out


scatter_mul_p.def_jvp(_scatter_mul_jvp)


def _scatter_mul_transpose(
    ct,
    operand,
    indices,
    updates,
    *,
    dimension_numbers,
    indices_are_sorted,
    mode,
    unique_indices,
    update_consts,
    update_jaxpr,
):
    if is_undefined_primal(updates):
        if not unique_indices:
            raise NotImplementedError(
                "scatter_mul gradients are only implemented if `unique_indices=True`"
            )
        if is_undefined_primal(operand):
            raise ValueError("scatter_mul is not linear in operand and updates together")
        up_ct = _gather_updates(
            ew.mul(ct, operand), indices, updates.aval.shape, dimension_numbers, mode
        )
        return [None, None, up_ct]
    op_ct = scatter_mul(
        ct,
        indices,
        updates,
        dimension_numbers,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
        mode=mode,
    )
    return [op_ct, None, None]


scatter_mul_p.def_transpose(_scatter_mul_transpose)


def _extremal_jvp(p):
    """JAX's rule for scatter-min/-max: ties share the derivative (each value that equals
    the result, operand element or update, gets an equal part), written as JAX writes it
    (gathers of counts at each update's target), so NaNs and infinities propagate as
    they do in JAX's derivatives."""

    def rule(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = p.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, _tangent_zero(out)
        t_op, t_up = instantiate(t_op), instantiate(t_up)
        dn = params["dimension_numbers"]
        upd_aval = core.get_aval(updates)
        gdn, sizes = _inverse_gather(dn, core.get_aval(operand).shape, upd_aval.shape)

        def at_targets(x):
            return gather(x, indices, gdn, sizes, mode=GatherScatterMode.PROMISE_IN_BOUNDS)

        def count(per_update):  # (a thunk: JAX makes the zeros first, then the updates)
            zeros = _zeros_of(operand)
            return at_targets(scatter_add(zeros, indices, per_update(), dn))

        def ones():
            return full(upd_aval.shape, 1, upd_aval.dtype)

        initial = at_targets(operand)
        target = at_targets(out)
        won = eq(updates, target)
        kept = eq(initial, target)
        n_won = count(lambda: select(won, ones(), _zeros_of(updates)))
        n_refs = count(ones)
        share = select(kept, 1.0 / (n_won + 1), 1.0 / n_won)
        updates_coef = select(won, share, _zeros_of(updates))
        operand_coef = (-1.0 + select(kept, 1.0 / (n_won + 1), _zeros_of(n_won))) / n_refs
        t_updates = at_targets(t_op) * operand_coef + t_up * updates_coef
        t_out = scatter_add(
            t_op,
            indices,
            t_updates,
            dn,
            indices_are_sorted=params["indices_are_sorted"],
            unique_indices=params["unique_indices"],
            mode=params["mode"],
        )
        return out, t_out

    return rule


scatter_min_p.def_jvp(_extremal_jvp(scatter_min_p))
scatter_max_p.def_jvp(_extremal_jvp(scatter_max_p))


def _scatter_jvp(primals, tangents, **params):
    """With unique indices, scatter the tangents like the values. Otherwise which of
    several colliding updates wins is unspecified, so find out: scatter an id per update
    window, read the ids back, and rebuild the result (and its tangent) with scatter-adds
    of only the winners, so value and tangent agree."""
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    if type(t_op) is Zero and type(t_up) is Zero:
        out = scatter_p.bind(operand, indices, updates, **params)
        return out, _tangent_zero(out)
    t_op, t_up = instantiate(t_op), instantiate(t_up)
    if params["unique_indices"]:
        return (
            scatter_p.bind(operand, indices, updates, **params),
            scatter_p.bind(t_op, indices, t_up, **params),
        )
    # In JAX's order (its _scatter_jvp): ids from 1 per update window, scattered, read
    # back; then operand and updates masked to the winners, rebuilt by scatter-adds.
    from .filled import full_like
    from .structural import iota, reshape

    dn = params["dimension_numbers"]
    kw = dict(
        indices_are_sorted=params["indices_are_sorted"],
        unique_indices=params["unique_indices"],
        mode=params["mode"],
    )
    upd_shape = core.get_aval(updates).shape
    id_shape = tuple(1 if d in dn.update_window_dims else s for d, s in enumerate(upd_shape))
    n_ids = int(np.prod(id_shape, dtype=np.int64))
    id_dtype = np.dtype(np.uint64 if n_ids > np.iinfo(np.uint32).max else np.uint32)
    ids = ew.add(reshape(iota(id_dtype, n_ids), id_shape), full_like(updates, 1, id_dtype))
    placed = scatter(full(core.get_aval(operand).shape, 0, id_dtype), indices, ids, dn, **kw)
    gdn, sizes = _inverse_gather(dn, core.get_aval(placed).shape, upd_shape)
    read = gather(placed, indices, gdn, sizes)
    masked_x = select(eq(placed, full_like(placed, 0)), operand, full_like(operand, 0))
    masked_u = select(eq(ids, read), updates, full_like(updates, 0))
    masked_tx = select(eq(placed, full_like(placed, 0)), t_op, full_like(t_op, 0))
    masked_tu = select(eq(ids, read), t_up, full_like(t_up, 0))
    return (
        scatter_add(masked_x, indices, masked_u, dn, **kw),
        scatter_add(masked_tx, indices, masked_tu, dn, **kw),
    )


scatter_p.def_jvp(_scatter_jvp)


def _scatter_transpose(
    ct,
    operand,
    indices,
    updates,
    *,
    dimension_numbers,
    indices_are_sorted,
    mode,
    unique_indices,
    update_consts,
    update_jaxpr,
):
    if not unique_indices:
        raise NotImplementedError("scatter transpose is only implemented where unique_indices=True")
    op_ct = up_ct = None
    upd_shape = updates.aval.shape if is_undefined_primal(updates) else core.get_aval(updates).shape
    if is_undefined_primal(operand):
        if type(ct) is Zero:
            op_ct = Zero(operand.aval)
        else:
            zeros = full(upd_shape, 0, core.get_aval(ct).dtype)
            op_ct = scatter(
                ct,
                indices,
                zeros,
                dimension_numbers,
                indices_are_sorted=indices_are_sorted,
                unique_indices=True,
                mode=mode,
            )
    if is_undefined_primal(updates):
        up_ct = (
            Zero(updates.aval)
            if type(ct) is Zero
            else _gather_updates(ct, indices, upd_shape, dimension_numbers, mode)
        )
    return [op_ct, None, up_ct]


scatter_p.def_transpose(_scatter_transpose)
