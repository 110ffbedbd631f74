"""Models: the domain table, the checker (AST -> Model), the Model value, composition, decorators and the lowering to JAX."""
