"""The operators' user-management pages (list, create, roles, password): part of the web
shell because the rules they call live in ``agrega.core`` (users and roles)."""
