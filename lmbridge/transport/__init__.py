"""Transport: async HTTP, SSE decoding, retries, wire types and error classification."""
