"""The screen: the active window (context for commands), capture, geometry."""
