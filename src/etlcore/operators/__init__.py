"""One module per operator; each registers its class with `etlcore.registry.register`."""
