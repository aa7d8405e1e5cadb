"""Simulated micrographs with truth, made as a microscope makes them."""
