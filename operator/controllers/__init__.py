"""kopf handlers, one module per resource kind (importing them registers the handlers)."""
