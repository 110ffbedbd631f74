"""The .ebm language's syntax: parsing (Lark), the AST and its one traversal, syntax-error hints."""
