"""srx bench: datasets, methods and the resumable, shardable evaluation runner."""
