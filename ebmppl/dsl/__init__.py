"""The .ebm language: parsing (Lark), the AST, and the checker."""
