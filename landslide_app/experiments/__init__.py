"""Experiments over a chip store: the Table 2 ablation, single-configuration train / predict / embed."""
