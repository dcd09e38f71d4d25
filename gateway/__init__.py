"""The PMP hub gateway: the async HTTP front door, its settings, the request pipeline and its steps."""
