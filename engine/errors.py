"""Errors a person can act on, with JAX's class names and hierarchy."""


class JAXTypeError(TypeError):
    pass


class ConcretizationTypeError(JAXTypeError):
    pass


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(JAXTypeError):
    pass


class TracerArrayConversionError(JAXTypeError):
    pass


class UnexpectedTracerError(JAXTypeError):
    pass


class NonConcreteBooleanIndexError(IndexError):
    pass


def __getattr__(name):
    # jaxlib's own class (a failing program, e.g. a host callback that raised).
    if name in ("JaxRuntimeError", "XlaRuntimeError"):
        from .runtime import JaxRuntimeError

        return JaxRuntimeError
    raise AttributeError(f"module 'engine.errors' has no attribute {name!r}")
