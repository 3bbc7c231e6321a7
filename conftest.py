pytest_plugins = ["svckit.testing.fixtures"]
