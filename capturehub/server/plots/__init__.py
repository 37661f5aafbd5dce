"""The plot of a capture at any zoom: the window route and the min/max pyramid behind it."""
