"""Model loading, generation, corpus import, cleaning, datasets, training, evaluation. No Qt."""
