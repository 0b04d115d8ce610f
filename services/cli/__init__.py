"""The `linli` command: the composition root, the one package that may import every service."""
