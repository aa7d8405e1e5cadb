"""Particle extraction: boxes cut around picks, MRC stacks and RELION particles STAR with optics and CTF."""
