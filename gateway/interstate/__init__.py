"""Interstate exchange: partner states' hubs — who they are (``partners``) and the outbound fan-out to them."""
