"""The ``/api/v1/tasks`` resources, one module per resource."""
