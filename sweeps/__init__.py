"""Sweep declarations (grids, seeded Halton searches) and the resumable runner."""
