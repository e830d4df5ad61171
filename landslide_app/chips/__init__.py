"""Chips: the 128 x 128 x 17 training/prediction units, their grid, store and builder."""
