"""End-to-end tests (a package, so test modules can import the rig from .conftest)."""
