"""The few names under ``jax._src`` (JAX's private modules) that JAX's own tutorials
import, so that they run with ``import engine as jax``. Nothing else of JAX's private
modules exists here."""
