"""Use cases over the ports; owns transactions."""
