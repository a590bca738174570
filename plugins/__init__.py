"""Built-in plugins (layers, losses, optimizers, serializers, data, training)."""
