"""The HTTP API's routes, one Powertools router per resource; api/routes.py assembles them."""
