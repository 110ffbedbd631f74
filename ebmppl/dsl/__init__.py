"""The .ebm language's syntax: reading model files, parsing (Lark), the AST and its one traversal,
syntax-error hints."""
