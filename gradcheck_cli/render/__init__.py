"""Renderers: each takes a Report and writes it; none computes."""
