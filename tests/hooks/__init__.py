"""Unit tests of the template's hooks, one module per hook module (a package, so its
conftest and helpers do not clash with tests/conftest.py on import)."""
