"""Optional plug-ins that ship with the portal (connectors and the like)."""
