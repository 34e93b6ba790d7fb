"""Per-word attributions (`attributions`) and their rendering as HTML and terminal text (`render`)."""
