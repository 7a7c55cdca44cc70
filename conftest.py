# Shared Django fixtures (the EXA sandbox fixtures live in tests/conftest.py).
pytest_plugins = ["tests.fixtures"]
