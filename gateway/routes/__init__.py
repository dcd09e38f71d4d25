"""HTTP routes by protocol. Each decodes with its adapter, runs the shared pipeline, encodes with its adapter."""
