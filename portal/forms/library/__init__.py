"""Form definitions that ship with the portal."""
