"""Built-in features, shipped as plug-ins through the same hooks as third-party ones."""
