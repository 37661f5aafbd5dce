"""The web UI: server-rendered pages (Jinja2, htmx for the list pages, uPlot for the signal
plot), served by ``capturehub serve`` at ``/`` beside the API. See docs/ui.md."""
