"""The model: two-branch CNN embeddings, percentile features, random forest, protocol."""
