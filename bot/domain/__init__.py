"""The rules every channel shares. Pure Python, no I/O."""
